"""Every workshop page in /en/ and /es/: the page's language is the URL's, and no UI string of
the other language shows (the catalogue check of tests/test_languages.py, on these pages)."""

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from academy.workshops import services
from academy.workshops.models import Attendee
from tests.test_languages import DJANGO_ENGLISH, DJANGO_SPANISH, _catalogue, _pattern, visible_text

pytestmark = pytest.mark.django_db
TEMPLATES = Path(__file__).resolve().parents[2] / "academy/workshops/templates/workshops"


def _url(language: str, name: str, **kwargs) -> str:
    with translation.override(language):
        return reverse(f"workshops:{name}", kwargs=kwargs or None)


def workshop_pages(language: str, instructor, make_workshop) -> dict[str, str]:
    """Every page of the workshops app, as its readers see it, with errors where a form has
    them: instructor pages, the projector, joining, resuming, the attendee's labs, claiming,
    the public page."""
    workshop = make_workshop(language=language, title="Meetup 42")
    full = make_workshop(language=language, capacity=1, title="Meetup 43")
    services.attendee_join(workshop=full, display_name="Somebody")
    pages: dict[str, str] = {}

    def get(client: Client, url: str, label: str = "", data=None) -> None:
        response = client.post(url, data) if data is not None else client.get(url)
        assert response.status_code in (200, 404, 429), (url, response.status_code)
        pages[url + label] = response.content.decode()

    teacher = Client()
    teacher.force_login(instructor)
    get(teacher, _url(language, "instructor_list"))
    get(teacher, _url(language, "create"))
    get(teacher, _url(language, "create"), " (errors)", {"title": "", "capacity": "0"})
    get(teacher, _url(language, "manage", pk=workshop.pk))
    get(teacher, _url(language, "edit", pk=workshop.pk))
    get(teacher, _url(language, "projector", pk=workshop.pk))

    guest = Client()
    get(guest, _url(language, "join"))
    get(guest, _url(language, "join"), " (unknown code)", {"code": "ZZZZZZ"})
    get(guest, _url(language, "join_code", code=full.code), " (full)")
    get(guest, _url(language, "join_code", code=workshop.code))
    get(
        guest,
        _url(language, "join_code", code=workshop.code),
        " (bad name)",
        {"display_name": "\x00"},
    )
    get(guest, _url(language, "resume"))
    get(
        guest,
        _url(language, "resume"),
        " (wrong)",
        {"code": workshop.code, "resume_code": "AAAAAAAA"},
    )
    get(guest, _url(language, "public", slug=workshop.slug))
    guest.post(_url(language, "join_code", code=workshop.code), {"display_name": "Ana"})
    assert Attendee.objects.filter(workshop=workshop).exists()
    get(guest, _url(language, "home", slug=workshop.slug), " (with the resume code)")
    get(guest, _url(language, "claim", slug=workshop.slug))
    get(guest, _url(language, "claim", slug=workshop.slug), " (errors)", {"username": ""})
    get(guest, _url(language, "public", slug=workshop.slug), " (joined)")
    return pages


@pytest.mark.parametrize("language", ["es", "en"])
def test_no_ui_text_from_the_other_language(language, instructor, make_workshop):
    catalogue = _catalogue()
    foreign = (
        list(catalogue) + DJANGO_ENGLISH
        if language == "es"
        else list(catalogue.values()) + DJANGO_SPANISH
    )
    patterns = [(text, _pattern(text)) for text in foreign]
    pages = workshop_pages(language, instructor, make_workshop)
    leaks = []
    for url, html in pages.items():
        assert f'<html lang="{language}">' in html, url
        text = visible_text(html)
        leaks += [(url, source) for source, pattern in patterns if pattern.search(text)]
    assert len(pages) >= 18
    assert leaks == [], leaks


def _template_strings() -> set[str]:
    """The plain {% translate "…" %} strings of the workshop templates."""
    found = set()
    for path in TEMPLATES.glob("*.html"):
        found |= set(re.findall(r'{% translate "([^"{}%]+)" %}', path.read_text(encoding="utf-8")))
    return {text for text in found if re.search(r"[a-z]{3}", text)}


def test_the_spanish_pages_show_none_of_the_workshop_templates_english(instructor, make_workshop):
    strings = _template_strings()
    assert len(strings) > 40
    pages = workshop_pages("es", instructor, make_workshop)
    text = "\n".join(visible_text(html) for html in pages.values())
    untranslated = sorted(s for s in strings if _pattern(s).search(text))
    assert untranslated == []
