"""Taking an exam: eligibility, the server's draw and deadline, answers saved as given, submit,
automatic submission, grading per domain, and a hostile candidate's attempts to bend them."""

import json
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from academy.certifications import exams
from academy.certifications.content import domain_shares
from academy.certifications.models import Attempt, Certification, Item
from academy.certifications.selectors import certification_eligibility
from academy.contentsync import content_sync
from academy.courses.models import Lesson, LessonProgress
from tests.certifications.content_tree import write_demo_certification
from tests.content_tree import write_demo_course
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(tmp_path):
    write_demo_course(tmp_path)
    write_demo_certification(tmp_path)
    content_sync(root=tmp_path)
    return Certification.objects.get(key="demo-practitioner")


def complete_course(user, course_key: str = "demo-course") -> None:
    now = timezone.now()
    for lesson in Lesson.objects.filter(course__key=course_key):
        LessonProgress.objects.update_or_create(
            user=user, lesson=lesson, defaults={"last_visited_at": now, "completed_at": now}
        )


@pytest.fixture
def candidate(demo):
    user = UserFactory()
    complete_course(user)
    return user


def signed_in(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def answer_all(attempt: Attempt, *, right: int) -> None:
    """Answers the first ``right`` questions correctly and the rest wrongly."""
    for index, question in enumerate(attempt.questions.order_by("position")):
        if index < right:
            chosen = list(question.correct_options)
        else:
            chosen = [
                next(pk for pk in question.option_order if pk not in question.correct_options)
            ]
        exams.attempt_answer(attempt=attempt, position=question.position, option_ids=chosen)


def post_answer(client, attempt, payload, language="en"):
    with translation.override(language):
        url = reverse("certifications:answer", kwargs={"public_id": attempt.public_id})
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return client.post(url, body, content_type="application/json")


# --- Eligibility -----------------------------------------------------------------------------


def test_prerequisites_are_enforced_not_only_shown(demo):
    user = UserFactory()
    eligibility = certification_eligibility(certification=demo, user=user)
    assert not eligibility.may_start
    assert [done for _course, done in eligibility.courses] == [False]
    with pytest.raises(exams.ExamError):
        exams.attempt_start(user=user, certification=demo, language="en")
    complete_course(user)
    assert certification_eligibility(certification=demo, user=user).may_start
    assert exams.attempt_start(user=user, certification=demo, language="en").pk


def test_cool_down_and_attempts_per_period(candidate, demo):
    now = timezone.now()
    first = exams.attempt_start(user=candidate, certification=demo, language="en", now=now)
    first = exams.attempt_submit(attempt=first, now=now + timedelta(minutes=1))
    soon = now + timedelta(hours=1)
    eligibility = certification_eligibility(certification=demo, user=candidate, now=soon)
    assert not eligibility.may_start
    assert eligibility.next_attempt_at == first.submitted_at + timedelta(hours=24)
    with pytest.raises(exams.ExamError):
        exams.attempt_start(user=candidate, certification=demo, language="en", now=soon)
    # Three attempts in 30 days, each a day apart: the fourth waits for the window.
    moment = now
    for _ in range(2):
        moment += timedelta(hours=25)
        attempt = exams.attempt_start(user=candidate, certification=demo, language="en", now=moment)
        exams.attempt_submit(attempt=attempt, now=moment + timedelta(minutes=1))
    later = moment + timedelta(hours=25)
    eligibility = certification_eligibility(certification=demo, user=candidate, now=later)
    assert eligibility.attempts_used == 3 and not eligibility.may_start
    assert eligibility.next_attempt_at == first.started_at + timedelta(days=30)


def test_anonymous_visitors_see_the_blueprint_and_are_asked_to_sign_in(client, demo):
    for language in ("en", "es"):
        with translation.override(language):
            url = reverse("certifications:detail", kwargs={"slug": demo.slug})
        response = client.get(url)
        assert response.status_code == 200
        page = response.content.decode()
        assert demo.title in page
        sign_in = {"en": "Sign in to take this exam.", "es": "Inicia sesión para presentar"}
        assert sign_in[language] in page
    response = client.post(reverse("certifications:start", kwargs={"slug": demo.slug}))
    assert response.status_code == 302 and "?next=" in response["Location"]
    assert not Attempt.objects.exists()


# --- The draw --------------------------------------------------------------------------------


def test_each_attempt_draws_per_blueprint_on_the_server(real_content):
    certification = Certification.objects.get(key="chaos-engineering-practitioner")
    domains = list(certification.domains.order_by("order"))
    shares = dict(
        zip(
            [d.pk for d in domains],
            domain_shares(certification.questions, [d.weight for d in domains]),
            strict=True,
        )
    )
    draws = []
    for _ in range(4):
        user = UserFactory()
        for key in certification.prerequisites["courses"]:
            complete_course(user, key)
        attempt = exams.attempt_start(user=user, certification=certification, language="en")
        questions = list(attempt.questions.select_related("item"))
        assert len(questions) == certification.questions
        assert Counter(q.item.domain_id for q in questions) == Counter(shares)
        for question in questions:
            options = set(question.item.options.values_list("pk", flat=True))
            assert sorted(question.option_order) == sorted(options)
            assert set(question.correct_options) == set(
                question.item.options.filter(is_correct=True).values_list("pk", flat=True)
            )
        draws.append(tuple(q.item_id for q in questions))
    # 66 items, 20 drawn: four identical draws (or orders) would mean no draw at all.
    assert len(set(draws)) == 4


def test_one_attempt_in_progress_per_person_and_certification(candidate, demo):
    first = exams.attempt_start(user=candidate, certification=demo, language="en")
    again = exams.attempt_start(user=candidate, certification=demo, language="es")
    assert again.pk == first.pk and again.language == "en"
    # The database holds it too, whatever a racing process does.
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Attempt.objects.create(
            certification=demo,
            user=candidate,
            language="en",
            deadline=timezone.now() + timedelta(minutes=5),
            pass_mark=70,
        )


# --- The exam page and answers -------------------------------------------------------------------


def test_the_exam_page_never_carries_the_key(client, real_content):
    certification = Certification.objects.get(key="gitops-practitioner")
    user = UserFactory()
    for key in certification.prerequisites["courses"]:
        complete_course(user, key)
    signed_in(client, user)
    with translation.override("es"):
        url = reverse("certifications:start", kwargs={"slug": certification.slug})
    response = client.post(url, {"language": "es"})
    attempt = Attempt.objects.get(user=user)
    assert attempt.language == "es"
    assert response["Location"].startswith("/es/")
    page = client.get(response["Location"]).content.decode()
    assert 'lang="es"' in page
    assert "Pregunta 1 de 20" in page and "Entregar el examen" in page
    for question in attempt.questions.select_related("item"):
        item = question.item
        assert (
            item.prompt_es.split("\n")[0][:40] in page.replace("&#x27;", "'").replace("&quot;", '"')
            or "&" in item.prompt_es[:40]
        )
        assert item.explanation_es[:60] not in page
        assert item.explanation_en[:60] not in page
        # Options appear in the drawn order, by id only.
        positions = [page.index(f'value="{pk}"') for pk in question.option_order]
        assert positions == sorted(positions)
    assert "is_correct" not in page and "correct_options" not in page


def test_answers_are_saved_as_given_and_come_back_after_a_reload(client, candidate, demo):
    signed_in(client, candidate)
    attempt = exams.attempt_start(user=candidate, certification=demo, language="en")
    question = attempt.questions.order_by("position").first()
    chosen = question.option_order[-1]
    response = post_answer(client, attempt, {"position": question.position, "options": [chosen]})
    assert response.status_code == 200 and response.json() == {"saved": True, "answered": 1}
    question.refresh_from_db()
    assert question.selected == [chosen] and question.answered_at is not None
    page = client.get(reverse("certifications:attempt", kwargs={"public_id": attempt.public_id}))
    assert f'value="{chosen}" checked' in page.content.decode()


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        {"position": 1},
        {"position": "1", "options": []},
        {"position": 99, "options": []},
        {"position": 1, "options": [True]},
        {"position": 1, "options": "1"},
        {"position": 1, "options": list(range(50))},
    ],
)
def test_a_tampered_answer_is_refused_and_changes_nothing(client, candidate, demo, payload):
    signed_in(client, candidate)
    attempt = exams.attempt_start(user=candidate, certification=demo, language="en")
    response = post_answer(client, attempt, payload)
    assert response.status_code == 400
    assert response.json()["error"]
    assert not attempt.questions.exclude(selected=[]).exists()


def test_options_of_another_question_or_two_for_a_single_answer_are_refused(
    client, candidate, demo
):
    signed_in(client, candidate)
    attempt = exams.attempt_start(user=candidate, certification=demo, language="en")
    questions = list(attempt.questions.select_related("item").order_by("position"))
    first, second = questions[0], questions[1]
    response = post_answer(
        client, attempt, {"position": first.position, "options": [second.option_order[0]]}
    )
    assert response.status_code == 400
    single = next(q for q in questions if q.item.kind != "multiple")
    response = post_answer(
        client, attempt, {"position": single.position, "options": single.option_order[:2]}
    )
    assert response.status_code == 400
    assert "one answer" in response.json()["error"]
    assert not attempt.questions.exclude(selected=[]).exists()


def test_another_candidates_attempt_is_not_found(client, candidate, demo):
    attempt = exams.attempt_start(user=candidate, certification=demo, language="en")
    intruder = UserFactory()
    signed_in(client, intruder)
    for name in ("attempt", "result"):
        url = reverse(f"certifications:{name}", kwargs={"public_id": attempt.public_id})
        assert client.get(url).status_code == 404
    question = attempt.questions.first()
    response = post_answer(
        client, attempt, {"position": question.position, "options": question.correct_options}
    )
    assert response.status_code == 404
    url = reverse("certifications:submit", kwargs={"public_id": attempt.public_id})
    assert client.post(url).status_code == 404
    attempt.refresh_from_db()
    assert attempt.state == Attempt.State.IN_PROGRESS
    assert not attempt.questions.exclude(selected=[]).exists()


def test_a_flood_of_answers_is_limited(client, candidate, demo, settings):
    settings.LAB_RATE_LIMITS = {**settings.LAB_RATE_LIMITS, "exam_answer": {"user": "5/60"}}
    signed_in(client, candidate)
    attempt = exams.attempt_start(user=candidate, certification=demo, language="en")
    question = attempt.questions.first()
    statuses = [
        post_answer(
            client, attempt, {"position": question.position, "options": [question.option_order[0]]}
        ).status_code
        for _ in range(8)
    ]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429] * 3


# --- Deadline, submit, grading ----------------------------------------------------------------


def test_an_answer_after_the_deadline_is_refused_whatever_the_browser_sends(
    client, candidate, demo
):
    signed_in(client, candidate)
    attempt = exams.attempt_start(user=candidate, certification=demo, language="en")
    question = attempt.questions.order_by("position").first()
    exams.attempt_answer(
        attempt=attempt, position=question.position, option_ids=[question.option_order[0]]
    )
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    response = post_answer(
        client, attempt, {"position": question.position, "options": question.correct_options}
    )
    assert response.status_code == 400
    assert "Time is up" in response.json()["error"]
    # A submit that carries answers is graded on what was saved in time, as the deadline's.
    url = reverse("certifications:submit", kwargs={"public_id": attempt.public_id})
    response = client.post(url, {f"q-{question.position}": question.correct_options})
    assert response.status_code == 302
    attempt.refresh_from_db()
    question.refresh_from_db()
    assert question.selected == [question.option_order[0]]
    assert attempt.state == Attempt.State.GRADED
    assert attempt.submitted_by == Attempt.SubmittedBy.DEADLINE
    assert attempt.submitted_at == attempt.deadline


def test_grading_per_domain_and_a_double_submit_is_harmless(client, candidate, demo):
    signed_in(client, candidate)
    attempt = exams.attempt_start(user=candidate, certification=demo, language="en")
    answer_all(attempt, right=1)
    url = reverse("certifications:submit", kwargs={"public_id": attempt.public_id})
    assert client.post(url).status_code == 302
    attempt.refresh_from_db()
    graded_at = attempt.graded_at
    assert attempt.state == Attempt.State.GRADED
    assert (attempt.points, attempt.points_possible, attempt.score) == (1, 3, 33)
    assert attempt.passed is False
    assert sorted((d["domain"], d["possible"]) for d in attempt.domain_scores) == [
        ("alpha", 2),
        ("beta", 1),
    ]
    assert sum(d["points"] for d in attempt.domain_scores) == 1
    # Again, and an answer afterwards: nothing changes.
    assert client.post(url).status_code == 302
    question = attempt.questions.first()
    response = post_answer(
        client, attempt, {"position": question.position, "options": question.correct_options}
    )
    assert response.status_code == 409
    attempt.refresh_from_db()
    assert attempt.graded_at == graded_at and attempt.score == 33


def test_the_result_of_a_failed_attempt_never_reveals_the_key(client, real_content):
    certification = Certification.objects.get(key="chaos-engineering-practitioner")
    user = UserFactory()
    for key in certification.prerequisites["courses"]:
        complete_course(user, key)
    signed_in(client, user)
    attempt = exams.attempt_start(user=user, certification=certification, language="en")
    answer_all(attempt, right=3)
    exams.attempt_submit(attempt=attempt)
    url = reverse("certifications:result", kwargs={"public_id": attempt.public_id})
    page = client.get(url).content.decode()
    attempt.refresh_from_db()
    assert attempt.points == 3 and not attempt.passed
    assert "Not passed" in page and f"{attempt.score}%" in page
    for question in attempt.questions.select_related("item"):
        assert question.item.explanation_en[:60] not in page
        for option in question.item.options.filter(is_correct=True):
            assert option.text_en not in page
        assert question.item.prompt_en[:60] not in page
    for domain in certification.domains.all():
        assert domain.title_en in page


def test_the_deadline_submits_an_attempt_whose_candidate_never_comes_back(candidate, demo):
    start = timezone.now() - timedelta(minutes=9)  # the demo exam lasts 10 minutes
    attempt = exams.attempt_start(user=candidate, certification=demo, language="es", now=start)
    answer_all(attempt, right=2)  # before the deadline: the "now" of each answer is real time
    assert exams.attempts_expire(now=start + timedelta(minutes=5))["expired"] == 0
    swept = exams.attempts_expire(now=start + timedelta(minutes=11))
    assert swept["expired"] == 1
    attempt.refresh_from_db()
    assert attempt.state == Attempt.State.GRADED
    assert attempt.submitted_by == Attempt.SubmittedBy.DEADLINE
    assert exams.attempts_expire()["expired"] == 0


def test_the_expiry_task_is_on_beats_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["expire-exam-attempts"]
    assert entry["task"] == "academy.certifications.tasks.expire"
    from academy.certifications import tasks

    assert tasks.expire.name == entry["task"]


def test_the_exam_is_taken_in_the_attempts_language(client, candidate, demo):
    signed_in(client, candidate)
    attempt = exams.attempt_start(user=candidate, certification=demo, language="es")
    with translation.override("en"):
        english = reverse("certifications:attempt", kwargs={"public_id": attempt.public_id})
    response = client.get(english)
    assert response.status_code == 302 and response["Location"].startswith("/es/")
    page = client.get(response["Location"]).content.decode()
    assert "¿Y alpha-0" in page or "¿Y beta-0" in page
    assert 'lang="es"' in page


def test_items_retired_mid_attempt_still_count(candidate, demo):
    attempt = exams.attempt_start(user=candidate, certification=demo, language="en")
    answer_all(attempt, right=2)
    Item.objects.filter(certification=demo).update(retired_at=timezone.now())
    exams.attempt_submit(attempt=attempt)
    attempt.refresh_from_db()
    assert attempt.score == 67 and attempt.points_possible == 3


def test_a_pass_without_an_issuer_key_keeps_its_grade_and_gets_its_certificate_later(
    client, candidate, demo, settings, tmp_path
):
    from academy.certifications import certificates

    settings.ACADEMY_ISSUER_KEY_FILE = tmp_path / "not-yet" / "issuer-key.pem"
    signed_in(client, candidate)
    attempt = exams.attempt_start(user=candidate, certification=demo, language="es")
    answer_all(attempt, right=3)
    attempt = exams.attempt_submit(attempt=attempt)
    assert attempt.state == Attempt.State.GRADED and attempt.passed
    assert not hasattr(attempt, "certificate")
    with translation.override("es"):
        url = reverse("certifications:result", kwargs={"public_id": attempt.public_id})
    assert "Tu certificado se está emitiendo" in client.get(url).content.decode()
    assert exams.attempts_expire()["certificates"] == 0  # still no key
    certificates.issuer_key_create()
    assert exams.attempts_expire()["certificates"] == 1
    attempt.refresh_from_db()
    assert attempt.certificate.language == "es"
    assert exams.attempts_expire()["certificates"] == 0
