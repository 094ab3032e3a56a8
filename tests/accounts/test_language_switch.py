"""The header's language switch changes the page's language; the profile's only when asked.

The switch shows the same page in the other language and remembers the choice in this browser,
nothing more. A signed-in reader whose profile language is not the page's is asked, in a small
prompt on the page, whether to make it their preferred language (e-mails and certificates
too): Yes saves it on their own profile, No thanks is remembered for the session. The prompt's
form works without script; with script it answers in JSON. Forged, unknown, off-site and
flooding answers are refused.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from academy.accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PROMPT = "data-language-prompt"
INCLUDE = '{% include "partials/language_prompt.html" %}'
MAIN = '<main id="main" class="wrap" tabindex="-1">'
ASK_ES = "Make Spanish your preferred language, for e-mails and certificates too?"
SAVED_ES = "Spanish is now your preferred language, for e-mails and certificates too."


def in_spanish(text: str) -> str:
    with translation.override("es"):
        return translation.gettext(text)


with translation.override("es"):
    URL = reverse("accounts:language_prompt")


@pytest.fixture(autouse=True)
def base_with_prompt(settings):
    """base.html with the prompt's one line, as the lead adds it (templates/base.html is not
    this change's file); once the real base.html has it, the real one is used as it is."""
    base = (settings.BASE_DIR / "templates" / "base.html").read_text()
    if INCLUDE in base:
        return
    assert MAIN in base
    base = base.replace(MAIN, f"{MAIN}\n    {INCLUDE}", 1)
    engine = settings.TEMPLATES[0]
    settings.TEMPLATES = [
        {
            **engine,
            "APP_DIRS": False,
            "OPTIONS": {
                **engine["OPTIONS"],
                "loaders": [
                    ("django.template.loaders.locmem.Loader", {"base.html": base}),
                    "django.template.loaders.filesystem.Loader",
                    "django.template.loaders.app_directories.Loader",
                ],
            },
        }
    ]


@pytest.fixture
def learner(client):
    user = UserFactory(preferred_language="en")
    client.force_login(user)
    return user


def answer(client, answer="yes", language="es", next_url="/es/", **extra):
    return client.post(URL, {"language": language, "answer": answer, "next": next_url}, **extra)


# --- The switch ---------------------------------------------------------------------------------


def test_the_switch_shows_the_page_in_the_other_language_and_leaves_the_profile(client, learner):
    response = client.post("/language/", {"language": "es", "next": "/en/labs/"})

    assert response.status_code == 302
    assert response["Location"] == "/es/laboratorios/"
    assert response.cookies["academy_language"].value == "es"
    learner.refresh_from_db()
    assert learner.preferred_language == "en"
    # The middleware does not send the reader back to the profile's language.
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert '<html lang="es">' in page.content.decode()


def test_the_switch_posts_each_language_its_translated_url(client):
    html = client.get("/en/labs/").content.decode()
    assert 'name="language" value="es"' in html
    assert 'name="next" value="/es/laboratorios/"' in html


def test_the_profile_language_still_picks_the_language_of_an_unprefixed_url(client, learner):
    assert client.get("/", HTTP_ACCEPT_LANGUAGE="es")["Location"] == "/en/"


# --- The prompt ---------------------------------------------------------------------------------


def test_a_signed_in_reader_on_a_page_in_another_language_is_asked(client, learner):
    html = client.get("/es/").content.decode()
    assert PROMPT in html
    assert in_spanish(ASK_ES) in html
    assert 'name="language" value="es"' in html
    assert f'action="{URL}"' in html
    assert "csrfmiddlewaretoken" in html


@pytest.mark.parametrize(
    ("profile", "page"), [("en", "/en/"), ("es", "/es/"), (None, "/es/")], ids=str
)
def test_nobody_else_is_asked(client, profile, page):
    if profile:
        client.force_login(UserFactory(preferred_language=profile))
    assert PROMPT not in client.get(page).content.decode()


def test_a_workshop_guest_without_an_e_mail_is_not_asked(client):
    """The prompt offers the language "for e-mails and certificates too": a guest who joined a
    workshop with a display name only has neither, and reads in the language of the URL."""
    client.force_login(UserFactory(preferred_language="es", email=""))
    assert PROMPT not in client.get("/en/").content.decode()


def test_yes_without_script_saves_the_profile_and_comes_back(client, learner):
    response = answer(client, next_url="/es/laboratorios/")

    assert response.status_code == 302
    assert response["Location"] == "/es/laboratorios/"
    learner.refresh_from_db()
    assert learner.preferred_language == "es"
    page = client.get(response["Location"]).content.decode()
    assert in_spanish(SAVED_ES) in page
    assert PROMPT not in page


def test_yes_with_script_answers_in_json(client, learner):
    response = answer(client, HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response.json() == {"answer": "yes", "message": in_spanish(SAVED_ES)}
    learner.refresh_from_db()
    assert learner.preferred_language == "es"


def test_no_thanks_is_remembered_for_the_session_and_changes_nothing(client, learner):
    response = answer(client, "no", HTTP_ACCEPT="application/json")

    assert response.json() == {"answer": "no", "message": ""}
    learner.refresh_from_db()
    assert learner.preferred_language == "en"
    assert PROMPT not in client.get("/es/").content.decode()
    assert PROMPT not in client.get("/es/laboratorios/").content.decode()
    # A new session (signing in again) asks again.
    other = Client()
    other.force_login(learner)
    assert PROMPT in other.get("/es/").content.decode()


# --- Hostile answers ----------------------------------------------------------------------------


def test_a_forged_answer_cannot_change_another_readers_language(client, learner):
    victim = UserFactory(preferred_language="en")
    client.post(
        URL,
        {
            "language": "es",
            "answer": "yes",
            "user": victim.pk,
            "user_id": victim.pk,
            "username": victim.username,
        },
    )
    victim.refresh_from_db()
    learner.refresh_from_db()
    assert victim.preferred_language == "en"
    assert learner.preferred_language == "es"  # only the signed-in reader's own


def test_a_visitor_who_is_not_signed_in_changes_nothing(client):
    response = answer(client)
    assert response.status_code == 302
    assert "/cuentas/" in response["Location"] and "next=" in response["Location"]
    assert not User.objects.filter(preferred_language="es").exists()


@pytest.mark.parametrize("language", ["klingon", "", "ES", "es-419"])
def test_an_unknown_language_is_refused_with_a_clear_error(client, learner, language):
    refused = answer(client, language=language)
    assert refused.status_code == 400
    expected = in_spanish("Choose a language this site offers: English or Spanish.")
    assert refused.content.decode() == expected
    as_json = answer(client, language=language, HTTP_ACCEPT="application/json")
    assert as_json.status_code == 400 and as_json.json() == {"error": expected}
    learner.refresh_from_db()
    assert learner.preferred_language == "en"


def test_an_unknown_answer_is_refused(client, learner):
    assert answer(client, "maybe").status_code == 400
    learner.refresh_from_db()
    assert learner.preferred_language == "en"


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/es/", "/\\evil.example", "javascript:alert(1)"],
)
def test_an_off_site_next_is_refused(client, learner, next_url):
    response = answer(client, next_url=next_url)
    assert response.status_code == 302
    assert response["Location"] == "/es/"
    # The switch refuses it the same way.
    switched = client.post("/language/", {"language": "en", "next": next_url})
    assert switched["Location"] == "/en/"


def test_an_answer_needs_the_csrf_token(learner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(learner)
    assert browser.post(URL, {"language": "es", "answer": "yes"}).status_code == 403
    learner.refresh_from_db()
    assert learner.preferred_language == "en"


def test_a_get_changes_nothing(client, learner):
    assert client.get(URL, {"language": "es", "answer": "yes"}).status_code == 405
    learner.refresh_from_db()
    assert learner.preferred_language == "en"


def test_flooding_answers_is_refused_with_retry_after(client, learner, settings):
    settings.LAB_RATE_LIMITS = {
        **settings.LAB_RATE_LIMITS,
        "language_prompt": {"user": "3/600", "address": "100/600"},
    }
    for _ in range(3):
        assert answer(client, "no").status_code == 302
    refused = answer(client, "yes", HTTP_ACCEPT="application/json")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "error" in refused.json()
    learner.refresh_from_db()
    assert learner.preferred_language == "en"
    # Another reader is not slowed down by this one.
    other = Client()
    other.force_login(UserFactory(preferred_language="en"))
    assert answer(other, "no").status_code == 302
