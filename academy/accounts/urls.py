from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy
from django.utils.translation import gettext_lazy as _

from academy.accounts import views
from academy.accounts.forms import SiteSetPasswordForm

app_name = "accounts"

urlpatterns = [
    path(_("sign-up/"), views.sign_up, name="signup"),
    path(_("sign-in/"), views.SignInView.as_view(), name="login"),
    path(_("sign-out/"), auth_views.LogoutView.as_view(), name="logout"),
    path(_("profile/"), views.profile, name="profile"),
    path(_("profile/language/"), views.language_prompt, name="language_prompt"),
    path(_("password/reset/"), views.SitePasswordResetView.as_view(), name="password_reset"),
    path(
        _("password/reset/sent/"),
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        _("password/reset/<uidb64>/<token>/"),
        auth_views.PasswordResetConfirmView.as_view(
            form_class=SiteSetPasswordForm,
            success_url=reverse_lazy("accounts:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        _("password/reset/done/"),
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]
