"""Django's account strings that learners see, in the site's voice (tú, neutral Spanish).

Django's own Spanish catalogue says "Su contraseña…", "Introduzca…" and "carácteres"; the
sign-up, sign-in and password-reset pages must show our messages instead, in either language.
"""

import html
import re

import pytest
from django.core import mail

from academy.accounts.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SIGN_UP = {"es": "/es/cuentas/registro/", "en": "/en/accounts/sign-up/"}
# Django's wording in Spanish (usted, its misspelling) that must never reach a learner.
USTED = [
    "Su contraseña",
    "su contraseña",
    "usted",
    "carácteres",
    "Introduzca",
    "Introduza",
    "Asegúrese",
    "Por favor",
    "Escoja",
    "Ya existe un usuario con este nombre",
]


def _text(response) -> str:
    return html.unescape(response.content.decode())


def _sign_up(client, language, *, username="ana", password1, password2=None, email=None):
    return client.post(
        SIGN_UP[language],
        {
            "username": username,
            "email": email or f"{username}@example.org",
            "preferred_language": language,
            "password1": password1,
            "password2": password1 if password2 is None else password2,
        },
    )


def _assert_tu(text):
    found = [word for word in USTED if word in text]
    assert found == [], found


CASES = {
    "mismatch": (
        {"password1": "a-long-enough-passphrase", "password2": "a-different-passphrase"},
        "Las dos contraseñas no coinciden. Escribe la misma contraseña en ambos campos.",
        "The two passwords don't match. Type the same password in both fields.",
    ),
    "too short": (
        {"password1": "x7#Kq"},
        "Esta contraseña es demasiado corta. Debe tener al menos 8 caracteres.",
        "This password is too short. It must have at least 8 characters.",
    ),
    "too common": (
        {"password1": "iloveyou"},
        "Esta contraseña es demasiado común. Elige una que sea más difícil de adivinar.",
        "This password is too common. Choose one that is harder to guess.",
    ),
    "all digits": (
        {"password1": "7302948615273"},
        "Esta contraseña solo tiene dígitos. Agrega algunas letras o símbolos.",
        "This password has only digits. Add some letters or symbols.",
    ),
    "like the username": (
        {"username": "marisol", "password1": "marisol1", "email": "x@example.org"},
        "Tu contraseña se parece demasiado a tu nombre de usuario.",
        "Your password is too similar to your username.",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_sign_up_password_errors_speak_tu_in_spanish(client, case):
    data, spanish, _english = CASES[case]

    response = _sign_up(client, "es", **data)

    text = _text(response)
    assert response.status_code == 200
    assert spanish in text
    _assert_tu(text)
    assert not User.objects.filter(username=data.get("username", "ana")).exists()


@pytest.mark.parametrize("case", CASES)
def test_sign_up_password_errors_read_right_in_english(client, case):
    data, spanish, english = CASES[case]

    text = _text(_sign_up(client, "en", **data))

    assert english in text
    assert spanish not in text


def test_sign_up_with_a_taken_username_in_either_case(client):
    UserFactory(username="Ana")

    spanish = _text(_sign_up(client, "es", username="ana", password1=PASSWORD))
    english = _text(_sign_up(client, "en", username="ANA", password1=PASSWORD))

    assert "Ese nombre de usuario ya está en uso. Elige otro." in spanish
    _assert_tu(spanish)
    assert "That username is taken. Choose another one." in english
    assert User.objects.count() == 1


def test_sign_up_with_a_forged_username_and_language(client):
    response = client.post(
        SIGN_UP["es"],
        {
            "username": "ana maría; DROP",
            "email": "ana@example.org",
            "preferred_language": "klingon",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    text = _text(response)
    assert "Usa solo letras, dígitos y @ . + - _ en tu nombre de usuario (sin espacios)." in text
    assert "Elige una de las opciones de la lista." in text
    _assert_tu(text)
    assert not User.objects.exists()


def test_sign_up_overlong_fields_are_refused_in_spanish(client):
    text = _text(_sign_up(client, "es", username="a" * 151, password1=PASSWORD))

    assert "Escribe como máximo 150 caracteres (tiene 151)." in text
    _assert_tu(text)


def test_sign_up_help_texts_speak_tu(client):
    text = _text(client.get(SIGN_UP["es"]))

    for help_text in [
        "Hasta 150 caracteres: solo letras, dígitos y @ . + - _.",
        "Tu contraseña no puede parecerse demasiado a tus otros datos personales.",
        "Tu contraseña debe tener al menos 8 caracteres.",
        "Tu contraseña no puede ser una contraseña de uso común.",
        "Tu contraseña no puede tener solo dígitos.",
        "Vuelve a escribir la misma contraseña para verificarla.",
        "Confirma tu contraseña",
    ]:
        assert help_text in text, help_text
    _assert_tu(text)
    english = _text(client.get(SIGN_UP["en"]))
    assert "Your password must have at least 8 characters." in english
    assert "Confirm your password" in english


def test_sign_up_bad_email_speaks_tu(client):
    text = _text(_sign_up(client, "es", password1=PASSWORD, email="no-es-un-correo"))

    assert "Escribe una dirección de correo electrónico válida, como ana@example.org." in text
    _assert_tu(text)


def test_sign_in_error_speaks_tu(client):
    UserFactory(username="luis")

    spanish = _text(
        client.post("/es/cuentas/iniciar-sesion/", {"username": "luis", "password": "wrong"})
    )
    english = _text(client.post("/en/accounts/sign-in/", {"username": "luis", "password": "wrong"}))

    assert (
        "Escribe un nombre de usuario y una contraseña correctos. Ambos pueden distinguir "
        "entre mayúsculas y minúsculas."
    ) in spanish
    _assert_tu(spanish)
    assert "Enter a correct username and password. Both may be case-sensitive." in english


def _reset_link(client, language, email):
    path = {"es": "/es/cuentas/contrasena/restablecer/", "en": "/en/accounts/password/reset/"}
    client.post(path[language], {"email": email})
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    link = re.search(r"https?://[^/\s]+(/\S+)", message.body).group(1)
    form_page = client.get(link, follow=True)
    return message, form_page.redirect_chain[-1][0], _text(form_page)


def test_password_reset_mail_and_form_speak_tu(client):
    UserFactory(email="rosa@example.org")

    message, url, page = _reset_link(client, "es", "rosa@example.org")

    assert message.subject == "Restablece tu contraseña de la Academia de Caos y GitOps"
    assert "tu contraseña" in message.body
    assert "Si no lo pediste" in message.body
    _assert_tu(message.subject + message.body)
    assert "Contraseña nueva" in page
    assert "Confirma tu contraseña nueva" in page
    assert "Tu contraseña debe tener al menos 8 caracteres." in page
    _assert_tu(page)

    text = _text(client.post(url, {"new_password1": "12345678", "new_password2": "12345678"}))
    assert "Esta contraseña solo tiene dígitos. Agrega algunas letras o símbolos." in text
    text = _text(
        client.post(url, {"new_password1": "a-new-passphrase", "new_password2": "a-new-typo"})
    )
    assert "Las dos contraseñas no coinciden." in text
    _assert_tu(text)


def test_password_reset_in_english_reads_right(client):
    user = UserFactory(email="rosa@example.org")

    message, url, page = _reset_link(client, "en", "rosa@example.org")

    assert message.subject == "Reset your password for the Chaos & GitOps Academy"
    assert "Confirm your new password" in page
    text = _text(client.post(url, {"new_password1": "iloveyou", "new_password2": "iloveyou"}))
    assert "This password is too common. Choose one that is harder to guess." in text
    response = client.post(
        url, {"new_password1": "a-new-passphrase", "new_password2": "a-new-passphrase"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-new-passphrase")


def test_password_reset_bad_email_speaks_tu(client):
    text = _text(client.post("/es/cuentas/contrasena/restablecer/", {"email": "rosa@"}))

    assert "Escribe una dirección de correo electrónico válida, como ana@example.org." in text
    _assert_tu(text)
    assert mail.outbox == []
