from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from academy.accounts import views as account_views
from academy.courses import views as course_views

urlpatterns = [
    # Before the admin's own URLs: the same page, throttled like the site's sign-in.
    path("admin/login/", account_views.admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    path("language/", account_views.language_switch, name="language_switch"),
]

urlpatterns += i18n_patterns(
    path("", course_views.home, name="home"),
    path(_("accounts/"), include("academy.accounts.urls")),
    path("", include("labs.urls")),
    path("", include("academy.certifications.urls")),
    path("", include("academy.workshops.urls")),
    path("", include("academy.courses.urls")),
    prefix_default_language=True,
)
