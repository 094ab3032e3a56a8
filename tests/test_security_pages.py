"""Error pages in both languages with DEBUG off, and the security headers of every answer."""

import pytest
from django.test import Client
from django.urls import path

from academy import urls as academy_urls

pytestmark = pytest.mark.django_db


def _boom(request):
    raise RuntimeError("a bug")


# The project's URLs plus a view that fails, under the same i18n prefixes.
urlpatterns = [
    *academy_urls.urlpatterns,
    path("en/boom/", _boom),
    path("es/boom/", _boom),
]


@pytest.mark.parametrize(
    ("url", "heading", "link"),
    [
        ("/en/no-such-page/", "Page not found", "Browse the courses"),
        ("/es/no-existe/", "Página no encontrada", "Ver los cursos"),
    ],
)
def test_not_found_page_in_the_readers_language(client, settings, url, heading, link):
    assert settings.DEBUG is False
    response = client.get(url)

    html = response.content.decode()
    assert response.status_code == 404
    assert f"<h1>{heading}</h1>" in html
    assert link in html
    assert 'class="site-header"' in html  # the site's own layout


@pytest.mark.parametrize(
    ("url", "lang", "heading", "link"),
    [
        ("/en/boom/", "en", "Something went wrong", "Back to the home page"),
        ("/es/boom/", "es", "Algo salió mal", "Volver a la página de inicio"),
    ],
)
def test_server_error_page_in_the_readers_language(settings, url, lang, heading, link):
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)

    response = client.get(url)

    html = response.content.decode()
    assert response.status_code == 500
    assert f'<html lang="{lang}">' in html
    assert f"<h1>{heading}</h1>" in html
    assert f'<a class="button" href="/{lang}/">{link}</a>' in html
    assert "RuntimeError" not in html and "a bug" not in html


def test_answers_carry_the_security_headers(client):
    response = client.get("/en/")

    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response["Content-Security-Policy"].split(";")
        if directive.strip()
    )
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'self'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_the_admin_loads_jquery_ui_from_our_own_static_files(client, settings):
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    html = client.get("/admin/courses/course/add/").content.decode()

    assert "/static/vendor/jquery-ui/dist/jquery-ui.min.js" in html
    assert "googleapis" not in html and "//ajax." not in html
