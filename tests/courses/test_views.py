"""The learning flow over HTTP: languages, slugs, catalogue, lessons, knowledge checks."""

import re

import pytest
from django.urls import reverse
from django.utils import translation

from academy.courses.models import Choice, Lesson, LessonProgress, QuestionAnswer
from academy.courses.services import content_sync
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(demo_content):
    content_sync(root=demo_content)
    return Lesson.objects.get(key="first-lesson")


def test_root_redirects_by_accept_language(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="es-CR,es;q=0.9,en;q=0.5")
    assert response.status_code == 302
    assert response["Location"] == "/es/"

    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    assert response["Location"] == "/en/"


def test_language_cookie_wins_over_accept_language(client):
    client.cookies["academy_language"] = "es"
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert response["Location"] == "/es/"


def test_signed_in_readers_profile_language_wins(client):
    user = UserFactory(preferred_language="es")
    client.force_login(user)
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert response["Location"] == "/es/"


def test_spanish_urls_use_spanish_slugs(client, demo):
    response = client.get("/es/cursos/curso-demo/primera-leccion/")
    assert response.status_code == 200
    assert "Primera lección" in response.content.decode()


def test_english_slug_under_spanish_prefix_redirects_to_spanish_slug(client, demo):
    response = client.get("/es/cursos/demo-course/first-lesson/")
    assert response.status_code == 301
    assert response["Location"] == "/es/cursos/curso-demo/primera-leccion/"


def test_switcher_keeps_the_reader_on_the_same_lesson_and_remembers(client, demo):
    response = client.post(
        "/language/", {"language": "en", "next": "/es/cursos/curso-demo/primera-leccion/"}
    )
    assert response.status_code == 302
    assert response.cookies["academy_language"].value == "en"
    follow = client.get(response["Location"], follow=True)
    assert follow.redirect_chain[-1][0] == "/en/courses/demo-course/first-lesson/"
    assert "First lesson" in follow.content.decode()


def test_switcher_changes_the_page_not_the_profile(client, demo):
    # The profile changes only when the learner says yes to the prompt
    # (tests/accounts/test_language_switch.py).
    user = UserFactory(preferred_language="en")
    client.force_login(user)
    response = client.post("/language/", {"language": "es", "next": "/en/courses/"})
    assert response["Location"] == "/es/cursos/"
    user.refresh_from_db()
    assert user.preferred_language == "en"


def test_switcher_refuses_offsite_next(client):
    response = client.post("/language/", {"language": "es", "next": "https://evil.example/"})
    assert response["Location"] == "/es/"


def test_pages_link_their_other_language_versions(client, demo):
    html = client.get("/en/courses/demo-course/first-lesson/").content.decode()
    assert 'hreflang="es" href="/es/cursos/curso-demo/primera-leccion/"' in html


def test_catalogue_and_course_page(client, demo):
    html = client.get("/es/cursos/").content.decode()
    assert "Curso demo" in html
    html = client.get("/es/cursos/curso-demo/").content.decode()
    assert "Fundamentos" in html and "Segunda lección" in html


def test_missing_translation_shows_english_with_a_notice(client, demo_content):
    (demo_content / "courses/demo-course/lessons/second-lesson.es.md").unlink()
    content_sync(root=demo_content)

    html = client.get("/es/cursos/curso-demo/second-lesson/").content.decode()

    assert "Some text for the lesson." in html
    assert "todavía no está disponible en español" in html


def test_unknown_course_is_404_in_the_readers_language(client, demo):
    response = client.get("/es/cursos/no-existe/")
    assert response.status_code == 404
    assert "Página no encontrada" in response.content.decode()


def _form_fields(lesson: Lesson, *, correct: bool) -> dict:
    fields = {}
    for question in lesson.questions.all():
        choice = question.choices.filter(is_correct=correct).first()
        fields[f"question-{question.pk}"] = str(choice.pk)
    return fields


def test_knowledge_check_grades_on_the_server_and_explains(client, demo):
    url = "/es/cursos/curso-demo/primera-leccion/"

    html = client.post(url, _form_fields(demo, correct=False)).content.decode()
    assert "Respondiste correctamente 0 de 1." in html
    assert "La respuesta correcta es: Esta" in html
    assert "Porque sí." in html

    html = client.post(url, _form_fields(demo, correct=True)).content.decode()
    assert "Respondiste correctamente 1 de 1." in html


def test_answer_keys_are_not_sent_before_answering(client, demo):
    html = client.get("/en/courses/demo-course/first-lesson/").content.decode()
    assert "Because it is." not in html
    assert "correct" not in re.sub(r"<[^>]+>", "", html).lower().replace("correctly", "")


def test_tampered_answers_score_nothing(client, demo):
    other_question_choice = Choice.objects.exclude(question__lesson=demo).first()
    question = demo.questions.get()
    fields = {f"question-{question.pk}": "not-a-number", "question-999999": "1"}
    if other_question_choice:
        fields[f"question-{question.pk}"] = str(other_question_choice.pk)

    html = client.post("/en/courses/demo-course/first-lesson/", fields).content.decode()

    assert "You answered 0 of 1 correctly." in html


def test_learner_answers_and_progress_are_saved(client, demo):
    user = UserFactory()
    client.force_login(user)
    client.get("/en/courses/demo-course/first-lesson/")
    client.post("/en/courses/demo-course/first-lesson/", _form_fields(demo, correct=True))

    assert QuestionAnswer.objects.get(user=user).is_correct
    html = client.get("/en/courses/demo-course/first-lesson/").content.decode()
    assert "You answered 1 of 1 correctly." in html  # shown again on return

    response = client.post("/en/courses/demo-course/first-lesson/complete/")
    assert response["Location"] == "/en/courses/demo-course/second-lesson/"
    assert LessonProgress.objects.get(user=user, lesson=demo).completed_at is not None


def test_marking_complete_needs_an_account(client, demo):
    response = client.post("/en/courses/demo-course/first-lesson/complete/")
    assert response.status_code == 302
    assert response["Location"].startswith("/en/accounts/sign-in/")
    assert not LessonProgress.objects.exists()


def test_dashboard_shows_progress_and_where_to_continue(client, demo):
    user = UserFactory()
    client.force_login(user)
    client.post("/en/courses/demo-course/first-lesson/complete/")
    client.get("/en/courses/demo-course/first-lesson/")

    html = client.get("/en/dashboard/").content.decode()

    assert "1 of 2 lessons done (50%)" in html
    assert 'href="/en/courses/demo-course/second-lesson/"' in html
    assert "Continue where you left off" in html


def test_dashboard_needs_an_account(client):
    response = client.get("/es/panel/")
    assert response.status_code == 302
    assert response["Location"].startswith("/es/cuentas/iniciar-sesion/")


def test_lesson_page_has_previous_and_next(client, demo):
    html = client.get("/en/courses/demo-course/second-lesson/").content.decode()
    assert 'rel="prev" href="/en/courses/demo-course/first-lesson/"' in html
    with translation.override("es"):
        assert reverse("courses:catalogue") == "/es/cursos/"
