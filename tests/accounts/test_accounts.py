"""Sign-up, sign-in with throttling, password reset by e-mail, profile language."""

import re

import pytest
from django.core import mail

from academy.accounts.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_sign_up_signs_in_and_keeps_the_chosen_language(client):
    response = client.post(
        "/es/cuentas/registro/",
        {
            "username": "ana",
            "email": "ana@example.org",
            "preferred_language": "es",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/es/panel/"
    assert response.cookies["academy_language"].value == "es"
    assert User.objects.get(username="ana").preferred_language == "es"
    assert client.get("/es/panel/").status_code == 200


def test_sign_up_errors_are_in_the_readers_language(client):
    html = client.post(
        "/es/cuentas/registro/",
        {"username": "ana", "email": "no-es-un-correo", "password1": "a", "password2": "b"},
    ).content.decode()

    assert "Escribe una dirección de correo electrónico válida, como ana@example.org." in html
    assert not User.objects.exists()


def test_sign_in_redirects_to_the_dashboard_in_the_profile_language(client):
    UserFactory(username="luis", preferred_language="es")

    response = client.post("/en/accounts/sign-in/", {"username": "luis", "password": PASSWORD})

    assert response["Location"] == "/es/panel/"
    assert response.cookies["academy_language"].value == "es"


def test_sign_in_honours_next(client):
    UserFactory(username="luis")
    response = client.post(
        "/en/accounts/sign-in/?next=/en/courses/",
        {"username": "luis", "password": PASSWORD, "next": "/en/courses/"},
    )
    assert response["Location"] == "/en/courses/"


def test_sign_out(client):
    client.force_login(UserFactory())
    response = client.post("/en/accounts/sign-out/")
    assert response.status_code == 302
    assert client.get("/en/dashboard/").status_code == 302


def test_password_reset_by_email_in_spanish(client, settings):
    settings.SITE_URL = "https://academy.example.org"
    user = UserFactory(email="rosa@example.org", preferred_language="es")

    response = client.post("/es/cuentas/contrasena/restablecer/", {"email": "rosa@example.org"})

    assert response["Location"] == "/es/cuentas/contrasena/restablecer/enviado/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "Restablece tu contraseña de la Academia de Caos y GitOps"
    assert "Alguien pidió restablecer la contraseña" in message.body
    link = re.search(r"https://academy\.example\.org(/es/\S+)", message.body).group(1)

    form_page = client.get(link, follow=True)
    assert "Elige una contraseña nueva" in form_page.content.decode()
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-brand-new-passphrase", "new_password2": "a-brand-new-passphrase"},
    )
    assert response["Location"] == "/es/cuentas/contrasena/restablecer/listo/"
    user.refresh_from_db()
    assert user.check_password("a-brand-new-passphrase")


def test_password_reset_says_the_same_for_unknown_addresses(client):
    response = client.post("/en/accounts/password/reset/", {"email": "nobody@example.org"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_profile_change_of_language_moves_the_reader(client):
    user = UserFactory(preferred_language="en")
    client.force_login(user)

    response = client.post(
        "/en/accounts/profile/",
        {"first_name": "Rosa", "last_name": "", "email": user.email, "preferred_language": "es"},
    )

    assert response["Location"] == "/es/cuentas/perfil/"
    assert response.cookies["academy_language"].value == "es"
    user.refresh_from_db()
    assert (user.first_name, user.preferred_language) == ("Rosa", "es")
