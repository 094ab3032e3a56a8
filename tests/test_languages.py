"""Every /es/ page is Spanish and every /en/ page English, with the real content loaded.

The check reads the UI catalogue: on a Spanish page no English source string of the UI may
show, and on an English page no Spanish translation may. Lesson bodies and code are left out
(their language is checked in test_content_quality.py); page chrome, forms, messages and
attributes that people hear (aria-label, title, alt, placeholder) are all read.
"""

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.urls import reverse

from academy.courses.models import Course, Lesson
from labs.models import Lab
from scripts.check_catalogue import entries
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Django's own strings that would show if its Spanish catalogue were not in use.
DJANGO_ENGLISH = ["Username", "Password", "Password confirmation", "Email address", "Required."]
DJANGO_SPANISH = ["Nombre de usuario", "Contraseña", "Confirmación de contraseña"]


class _VisibleText(HTMLParser):
    # The switcher names each language in that language ("English" on a Spanish page).
    # A proper name (the issuer's registered name, signed into credentials) is not UI text,
    # nor is content (exam items are checked by the content tests; they quote code like
    # "status" in either language).
    SKIP_CLASSES = {"prose", "highlight", "language-switcher", "proper-name", "content-text"}
    SKIP_TAGS = {"script", "style"}
    HEARD_ATTRIBUTES = {"aria-label", "title", "alt", "placeholder"}
    VOID = {"br", "img", "input", "link", "meta", "hr", "source", "area", "wbr", "col"}

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.skip_depth = 0
        self.stack: list[bool] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        skipping = tag in self.SKIP_TAGS or bool(classes & self.SKIP_CLASSES)
        if self.skip_depth == 0:
            self.parts += [v for k, v in attrs if k in self.HEARD_ATTRIBUTES and v]
        if tag in self.VOID:
            return
        self.stack.append(skipping)
        self.skip_depth += skipping

    def handle_endtag(self, tag):
        if tag in self.VOID or not self.stack:
            return
        self.skip_depth -= self.stack.pop()

    def handle_data(self, data):
        if self.skip_depth == 0 and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)


def _pattern(text: str) -> re.Pattern:
    """A whole-phrase pattern; %(name)s placeholders match anything."""
    pieces = re.split(r"%\(\w+\)s|%%", text)
    body = r".+?".join(re.escape(piece) for piece in pieces)
    # "did:key" is an identifier scheme, not the English word "key".
    return re.compile(rf"(?<![\w:-]){body}(?![\w-])")


def _catalogue() -> dict[str, str]:
    path = settings.BASE_DIR / "locale/es/LC_MESSAGES/django.po"
    pairs = {}
    for msgid, (msgstr, _fuzzy) in entries(path.read_text(encoding="utf-8")).items():
        if "/" in msgid or msgid == msgstr or "\x04" in msgid:
            continue  # URL paths, and words that are the same in both languages
        if not re.search(r"[^\W\d_]", re.sub(r"%\(\w+\)[sd]", "", msgid)):
            continue  # only placeholders and signs ("%(rate)s%%"): no language to tell
        pairs[msgid.replace("\\n", "\n")] = msgstr.replace("\\n", "\n")
    return pairs


def _pages(client, language: str) -> dict[str, str]:
    prefix = f"/{language}"
    lessons = Lesson.objects.published().select_related("course")
    from django.utils import translation

    with translation.override(language):
        urls = ["/", *[c.get_absolute_url() for c in Course.objects.published()]]
        urls += [lesson.get_absolute_url() for lesson in lessons]
        urls += [reverse("labs:catalogue")]
        urls += [lab.get_absolute_url() for lab in Lab.objects.published()]
    urls = [url if url.startswith(prefix) else prefix + url for url in urls]
    pages = {}
    for url in urls:
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        pages[url] = response.content.decode()
    return pages


def _account_pages(client, language: str) -> dict[str, str]:
    names = {
        "en": ["accounts/sign-in/", "accounts/sign-up/", "accounts/password/reset/", "courses/"],
        "es": [
            "cuentas/iniciar-sesion/",
            "cuentas/registro/",
            "cuentas/contrasena/restablecer/",
            "cursos/",
        ],
    }[language]
    pages = {}
    for name in names:
        url = f"/{language}/{name}"
        response = client.get(url)
        assert response.status_code == 200, url
        pages[url] = response.content.decode()
    # A page with form errors and a 404, which people also see.
    url = f"/{language}/{names[1]}"
    pages[url + " (errors)"] = client.post(url, {"username": ""}).content.decode()
    missing = f"/{language}/{names[3]}no-such-course/"
    pages[missing] = client.get(missing).content.decode()
    return pages


def _signed_in_pages(client, language: str) -> dict[str, str]:
    client.force_login(UserFactory(preferred_language=language))
    urls = {
        "en": ["/en/dashboard/", "/en/accounts/profile/"],
        "es": ["/es/panel/", "/es/cuentas/perfil/"],
    }[language]
    lesson = Lesson.objects.published().first()
    from django.utils import translation

    with translation.override(language):
        lesson_url = lesson.get_absolute_url()
        complete_url = reverse(
            "courses:lesson_complete",
            kwargs={"course_slug": lesson.course.slug, "lesson_slug": lesson.slug},
        )
    urls.append(lesson_url)
    client.post(complete_url)
    with translation.override(language):
        lab = Lab.objects.published().first()
        started = client.post(reverse("labs:start", kwargs={"lab_slug": lab.slug}))
    urls.append(started["Location"])  # the session page, queued or starting
    pages = {url: client.get(url).content.decode() for url in urls}
    # The lesson page once more, now with graded answers and explanations.
    answers = {f"question-{q.pk}": str(q.choices.first().pk) for q in lesson.questions.all()}
    pages[lesson_url + " (graded)"] = client.post(lesson_url, answers).content.decode()
    return pages


def _certification_pages(client, language: str, tmp_path, settings) -> dict[str, str]:
    """The certification pages a candidate sees: the catalogue and blueprints, an exam in
    progress, its result, the certificate, the issuer and the verifier (after a pass)."""
    from django.utils import timezone, translation

    from academy.certifications import certificates, exams
    from academy.certifications.models import Certification
    from academy.courses.models import LessonProgress

    settings.ACADEMY_ISSUER_KEY_FILE = tmp_path / f"issuer-{language}.pem"
    certificates.issuer_key_create()
    user = UserFactory(preferred_language=language)
    client.force_login(user)
    certification = Certification.objects.published().first()
    now = timezone.now()
    for lesson in Lesson.objects.filter(course__key__in=certification.prerequisites["courses"]):
        LessonProgress.objects.create(
            user=user, lesson=lesson, last_visited_at=now, completed_at=now
        )
    attempt = exams.attempt_start(user=user, certification=certification, language=language)
    for question in attempt.questions.all():
        exams.attempt_answer(
            attempt=attempt, position=question.position, option_ids=question.correct_options
        )
    with translation.override(language):
        urls = [reverse("certifications:catalogue")]
        urls += [
            reverse("certifications:detail", kwargs={"slug": c.slug})
            for c in Certification.objects.published()
        ]
        urls.append(reverse("certifications:attempt", kwargs={"public_id": attempt.public_id}))
        result = reverse("certifications:result", kwargs={"public_id": attempt.public_id})
        urls += [reverse("certifications:issuer"), reverse("certifications:certificate_verify")]
    pages = {url: client.get(url).content.decode() for url in urls}
    exams.attempt_submit(attempt=attempt)
    pages[result] = client.get(result).content.decode()
    certificate = attempt.certificate
    with translation.override(language):
        for name in ("certificate", "certificates"):
            kwargs = {"public_id": certificate.public_id} if name == "certificate" else {}
            url = reverse(f"certifications:{name}", kwargs=kwargs)
            pages[url] = client.get(url).content.decode()
    return pages


@pytest.mark.parametrize("language", ["es", "en"])
def test_no_ui_text_from_the_other_language(client, real_content, language, tmp_path, settings):
    catalogue = _catalogue()
    if language == "es":
        foreign = list(catalogue) + DJANGO_ENGLISH
    else:
        foreign = list(catalogue.values()) + DJANGO_SPANISH
    patterns = [(text, _pattern(text)) for text in foreign]
    pages = {**_pages(client, language), **_account_pages(client, language)}
    pages.update(_signed_in_pages(client, language))
    pages.update(_certification_pages(client, language, tmp_path, settings))

    leaks = []
    for url, html in pages.items():
        assert f'<html lang="{language}">' in html, url
        text = visible_text(html)
        leaks += [(url, source) for source, pattern in patterns if pattern.search(text)]

    assert len(pages) > 20
    assert leaks == [], leaks
