"""Item statistics and CSV exports for staff, over attempt rows built here with known answers.

Thirty candidates sit the demo certification (tests/certifications/content_tree.py), each
drawing all nine items. Candidates 0-14 are strong, 15-29 weak; each item's answers follow a
pattern chosen so that its figures can be worked out by hand (see PATTERNS).
"""

import csv
import io
import statistics as pystats
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from academy.certifications.models import (
    Attempt,
    AttemptQuestion,
    Certificate,
    Certification,
    Item,
)
from academy.certifications.staff_views import csv_cell
from academy.certifications.statistics import (
    ItemFlag,
    attempts_csv_rows,
    certifications_overview,
    item_statistics,
)
from academy.contentsync import content_sync
from tests.certifications.content_tree import write_demo_certification
from tests.content_tree import write_demo_course
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CANDIDATES = 30
STRONG = range(15)
START = timezone.now().replace(microsecond=0) - timedelta(days=3)


def _strong(i: int) -> bool:
    return i in STRONG


# item key -> candidate index -> the option keys picked. The demo's keys: alpha-01 a,
# alpha-02 b, alpha-03 c, alpha-04 a, alpha-05 a+b, alpha-06 b, beta-01 c, beta-02 b,
# beta-03 b+c.
PATTERNS = {
    # Strong right, weak wrong: D = 1.
    "alpha-01": lambda i: ["a"] if _strong(i) else (["b"] if i % 2 == 0 else ["c"]),
    # Everyone right: too easy, and it cannot discriminate.
    "alpha-02": lambda i: ["b"],
    # Weak right, strong wrong: negative discrimination.
    "alpha-03": lambda i: (["a"] if i % 2 == 0 else ["b"]) if _strong(i) else ["c"],
    # Only candidates 0-5 right: p = 0.2, too hard.
    "alpha-04": lambda i: ["a"] if i < 6 else (["b"] if i % 2 == 0 else ["c"]),
    # Multiple answers: candidates 0-19 pick the whole key, the others a wrong pair.
    "alpha-05": lambda i: ["a", "b"] if i < 20 else ["a", "c"],
    # Even candidates right, odd ones pick "a": nobody ever picks "c".
    "alpha-06": lambda i: ["b"] if i % 2 == 0 else ["a"],
    # Fillers that keep the strong candidates ahead of the weak ones.
    "beta-01": lambda i: ["c"] if _strong(i) else (["a"] if i % 2 == 0 else ["b"]),
    "beta-02": lambda i: ["b"] if _strong(i) else (["a"] if i % 2 == 0 else ["c"]),
    "beta-03": lambda i: ["b", "c"] if _strong(i) else (["b"] if i % 2 == 0 else ["a", "b"]),
}


def _is_right(item: Item, picked: list[str]) -> bool:
    return sorted(picked) == sorted(o.key for o in item.options.all() if o.is_correct)


@pytest.fixture(autouse=True)
def _english():
    # A request to an /es/ page leaves Spanish active in the thread; reverse() would follow it.
    with translation.override("en"):
        yield


@pytest.fixture
def certification(tmp_path) -> Certification:
    write_demo_course(tmp_path)
    write_demo_certification(tmp_path)
    content_sync(root=tmp_path)
    return Certification.objects.get(key="demo-practitioner")


def _make_attempt(
    *,
    certification: Certification,
    user,
    answers: dict[str, list[str]],
    state: str = Attempt.State.GRADED,
    started_at=None,
    domain_scores=None,
) -> Attempt:
    started_at = started_at or START
    graded = state == Attempt.State.GRADED
    items = {item.key: item for item in certification.items.prefetch_related("options")}
    rights = {key: _is_right(items[key], picked) for key, picked in answers.items()}
    points = sum(rights.values())
    attempt = Attempt.objects.create(
        certification=certification,
        user=user,
        language="en",
        state=state,
        started_at=started_at,
        deadline=started_at + timedelta(minutes=10),
        submitted_at=started_at + timedelta(minutes=5) if state != "in_progress" else None,
        submitted_by=Attempt.SubmittedBy.CANDIDATE if state != "in_progress" else "",
        graded_at=started_at + timedelta(minutes=6) if graded else None,
        pass_mark=70,
        points=points if graded else None,
        points_possible=len(answers) if graded else None,
        score=round(100 * points / len(answers)) if graded else None,
        passed=(100 * points / len(answers) >= 70) if graded else None,
        domain_scores=domain_scores or [],
    )
    for position, (key, picked) in enumerate(answers.items(), start=1):
        item = items[key]
        by_key = {option.key: option.pk for option in item.options.all()}
        AttemptQuestion.objects.create(
            attempt=attempt,
            item=item,
            position=position,
            option_order=list(reversed(by_key.values())),
            correct_options=[o.pk for o in item.options.all() if o.is_correct],
            selected=[by_key[key] for key in picked],
            answered_at=started_at + timedelta(minutes=1) if picked else None,
            correct=rights[key] if graded else None,
        )
    return attempt


@pytest.fixture
def candidates(certification) -> list[Attempt]:
    """The thirty graded attempts, candidate i starting i minutes after START."""
    return [
        _make_attempt(
            certification=certification,
            user=UserFactory(username=f"candidate{i:02d}"),
            answers={key: pattern(i) for key, pattern in PATTERNS.items()},
            started_at=START + timedelta(minutes=i),
        )
        for i in range(CANDIDATES)
    ]


@pytest.fixture
def unfinished(certification) -> list[Attempt]:
    """Attempts that must not count: all wrong, in progress or still being graded."""
    wrong = {key: ["a"] if key != "alpha-01" else ["b"] for key in PATTERNS}
    return [
        _make_attempt(certification=certification, user=UserFactory(), answers=wrong, state=state)
        for state in [Attempt.State.IN_PROGRESS] * 3 + [Attempt.State.GRADING] * 2
    ]


def _by_key(rows) -> dict:
    return {statistic.item.key: statistic for statistic in rows}


def _rest_scores(key: str) -> tuple[list[bool], list[float]]:
    """Independently of the code: right or wrong on ``key``, and the share right elsewhere."""
    items = {item.key: item for item in Item.objects.prefetch_related("options")}
    right, rest = [], []
    for i in range(CANDIDATES):
        marks = {k: _is_right(items[k], pattern(i)) for k, pattern in PATTERNS.items()}
        right.append(marks[key])
        rest.append(sum(v for k, v in marks.items() if k != key) / (len(PATTERNS) - 1))
    return right, rest


# --- Item statistics -------------------------------------------------------------------------


def test_figures_of_items_with_known_answer_patterns(certification, candidates, unfinished):
    stats = _by_key(item_statistics(certification=certification))

    assert set(stats) == set(PATTERNS)
    assert all(s.drawn == CANDIDATES and s.answered == CANDIDATES for s in stats.values())
    # Kelley's 27% of 30 candidates, rounded: 8 in each group.
    assert all(s.group_size == 8 for s in stats.values())

    discriminating = stats["alpha-01"]
    assert (discriminating.correct, discriminating.difficulty) == (15, 0.5)
    assert discriminating.discrimination == 1.0
    assert discriminating.flags == []

    everyone = stats["alpha-02"]
    assert everyone.difficulty == 1.0
    assert everyone.discrimination == 0.0
    assert everyone.point_biserial is None  # no variance in the item: no correlation
    assert everyone.flags == [
        ItemFlag.TOO_EASY,
        ItemFlag.LOW_DISCRIMINATION,
        ItemFlag.UNPICKED_DISTRACTOR,
    ]

    negative = stats["alpha-03"]
    assert (negative.difficulty, negative.discrimination) == (0.5, -1.0)
    assert negative.flags == [ItemFlag.NEGATIVE_DISCRIMINATION]

    # Without the item itself the strong candidates' rest scores are 7/8 (even) and 6/8 (odd),
    # so the upper group is the eight even strong candidates: 0, 2, 4 of them got it right.
    hard = stats["alpha-04"]
    assert hard.difficulty == pytest.approx(0.2)
    assert hard.discrimination == pytest.approx(3 / 8)
    assert hard.flags == [ItemFlag.TOO_HARD]

    # Multiple answers: the weakest eight (rest 2/8) are the odd weak candidates; 15, 17 and 19
    # of them picked the whole key.
    multiple = stats["alpha-05"]
    assert multiple.correct == 20
    assert multiple.discrimination == pytest.approx(1 - 3 / 8)
    assert multiple.flags == []

    dead = stats["alpha-06"]
    options = {o.option.key: o for o in dead.options}
    assert {k: (o.offered, o.picked) for k, o in options.items()} == {
        "a": (30, 15),
        "b": (30, 15),
        "c": (30, 0),
    }
    assert [k for k, o in options.items() if o.unpicked] == ["c"]
    assert dead.flags == [ItemFlag.LOW_DISCRIMINATION, ItemFlag.UNPICKED_DISTRACTOR]

    for key in ("beta-01", "beta-02", "beta-03"):
        assert stats[key].discrimination == 1.0
        assert stats[key].flags == []


def test_point_biserial_is_the_correlation_with_the_rest_score(certification, candidates):
    stats = _by_key(item_statistics(certification=certification))

    for key in ("alpha-01", "alpha-03", "alpha-04", "alpha-05", "alpha-06", "beta-03"):
        right, rest = _rest_scores(key)
        expected = pystats.correlation([float(r) for r in right], rest)
        assert stats[key].point_biserial == pytest.approx(expected), key
    assert stats["alpha-01"].point_biserial > 0.8
    assert stats["alpha-03"].point_biserial < -0.8


def test_option_picks_in_the_upper_and_lower_groups(certification, candidates):
    stats = _by_key(item_statistics(certification=certification))

    options = {o.option.key: o for o in stats["alpha-01"].options}
    assert {k: o.picked for k, o in options.items()} == {"a": 15, "b": 7, "c": 8}
    assert (options["a"].picked_upper, options["a"].picked_lower) == (8, 0)
    assert options["b"].picked_lower + options["c"].picked_lower == 8
    assert options["a"].share == 0.5
    assert options["a"].is_correct and not options["b"].is_correct


def test_attempts_not_graded_are_left_out(certification, candidates, unfinished):
    # Those five answered everything wrong: counted, they would spoil alpha-02's p of 1.0.
    stats = _by_key(item_statistics(certification=certification))

    assert stats["alpha-02"].drawn == CANDIDATES
    assert stats["alpha-02"].difficulty == 1.0


def test_since_keeps_the_attempts_started_from_then(certification, candidates):
    stats = _by_key(
        item_statistics(certification=certification, since=START + timedelta(minutes=15))
    )

    assert stats["alpha-01"].drawn == 15
    assert stats["alpha-01"].difficulty == 0.0  # only the weak half started that late
    assert stats["alpha-03"].difficulty == 1.0


def test_nothing_is_judged_before_enough_draws(certification, candidates):
    stats = item_statistics(certification=certification, min_draws=CANDIDATES + 1)

    assert all(s.flags == [ItemFlag.FEW_DRAWS] for s in stats)
    assert not any(o.unpicked for s in stats for o in s.options)


def test_items_never_drawn_are_listed_without_figures(certification):
    user = UserFactory()
    _make_attempt(
        certification=certification, user=user, answers={"alpha-01": ["a"], "beta-01": ["c"]}
    )
    stats = _by_key(item_statistics(certification=certification))

    assert stats["alpha-01"].drawn == 1
    assert stats["alpha-01"].discrimination is None  # one candidate: no groups to compare
    never = stats["alpha-02"]
    assert (never.drawn, never.difficulty, never.discrimination) == (0, None, None)
    assert never.flags == [ItemFlag.FEW_DRAWS]


def test_retired_items_show_only_when_drawn(certification, candidates):
    Item.objects.filter(key="alpha-01").update(retired_at=timezone.now())
    AttemptQuestion.objects.filter(item__key="alpha-02").delete()
    Item.objects.filter(key="alpha-02").update(retired_at=timezone.now())

    keys = [s.item.key for s in item_statistics(certification=certification)]

    assert "alpha-01" in keys
    assert "alpha-02" not in keys


def test_another_certifications_attempts_do_not_count(certification, candidates):
    other = Certification.objects.create(
        key="other",
        slug="other",
        title="Other",
        summary="Other.",
        questions=1,
        minutes=1,
        pass_mark=1,
        cooldown_hours=1,
        attempts_count=1,
        attempts_days=1,
        validity_months=1,
    )

    assert item_statistics(certification=other) == []


def test_a_few_queries_whatever_the_number_of_attempts(
    certification, candidates, django_assert_max_num_queries
):
    with django_assert_max_num_queries(3):
        stats = item_statistics(certification=certification)
        # Reading every figure the page shows costs nothing more.
        for statistic in stats:
            _ = (statistic.domain.title, statistic.item.prompt)
            _ = [(o.option.text, o.is_correct) for o in statistic.options]


def test_overview_counts_attempts_and_passes(certification, candidates, unfinished):
    (overview,) = [
        o for o in certifications_overview() if o.certification.key == "demo-practitioner"
    ]

    # Strong candidates score 6 to 8 of 9, weak ones 2 to 4; the pass mark is 70%, so the
    # strong ones who score 6 (7, 9, 11 and 13) fail with the weak: 11 pass.
    assert (overview.attempts, overview.in_progress, overview.graded) == (35, 3, 30)
    assert overview.passed == 11
    assert overview.pass_rate == 11 / 30
    assert overview.pass_percent == 37


# --- CSV rows --------------------------------------------------------------------------------


def test_attempt_rows_have_one_column_per_domain_and_the_certificate(certification):
    user = UserFactory(username="ana")
    attempt = _make_attempt(
        certification=certification,
        user=user,
        answers={"alpha-01": ["a"], "alpha-02": ["b"], "beta-01": ["a"]},
        domain_scores=[
            {
                "domain": "alpha",
                "title_en": "Alpha",
                "title_es": "Alfa",
                "points": 2,
                "possible": 3,
            },
            {"domain": "beta", "title_en": "Beta", "title_es": "Beta", "points": 0, "possible": 1},
        ],
    )
    certificate = Certificate.objects.create(
        certification=certification,
        user=user,
        attempt=attempt,
        language="en",
        recipient_name="Ana",
        valid_from=timezone.now(),
        valid_until=timezone.now() + timedelta(days=700),
        status_index=7,
    )

    header, row = list(attempts_csv_rows(certification=certification))

    assert header == [
        "Attempt",
        "Username",
        "Language",
        "Started",
        "Submitted",
        "Submitted by",
        "State",
        "Score (%)",
        "Passed",
        "Points",
        "Points possible",
        "Alpha (%)",
        "Beta (%)",
        "Certificate",
    ]
    assert row[0] == str(attempt.public_id)
    assert row[1:3] == ["ana", "en"]
    assert row[3] == START.isoformat()
    assert row[5:11] == ["The candidate", "Graded", 67, "no", 2, 3]
    assert row[11:13] == [67, 0]  # 2 of 3 rounds half up to 67
    assert row[13] == str(certificate.public_id)


def test_attempt_rows_in_spanish(certification):
    _make_attempt(certification=certification, user=UserFactory(), answers={"alpha-01": ["a"]})

    with translation.override("es"):
        header = next(iter(attempts_csv_rows(certification=certification)))

    assert "Alfa (%)" in header  # the domain's Spanish title


# --- Pages and files -------------------------------------------------------------------------


@pytest.fixture
def staff(client):
    client.force_login(UserFactory(username="staffer", is_staff=True))
    return client


def _urls(certification, language: str = "en") -> list[str]:
    with translation.override(language):
        return [
            reverse("certifications:staff_index"),
            reverse("certifications:staff_statistics", args=[certification.key]),
            reverse("certifications:staff_statistics_csv", args=[certification.key]),
            reverse("certifications:staff_attempts_csv", args=[certification.key]),
        ]


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM that tells Excel it is UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_anonymous_visitors_are_sent_to_sign_in(client, certification, candidates):
    for url in _urls(certification):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login")), url
        assert b"candidate" not in response.content


def test_signed_in_learners_get_a_404(client, certification, candidates):
    client.force_login(candidates[0].user)
    for url in _urls(certification) + _urls(certification, "es"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"candidate0" not in response.content


def test_unknown_certification_is_a_404_for_staff(staff):
    for name in ("staff_statistics", "staff_statistics_csv", "staff_attempts_csv"):
        assert staff.get(reverse(f"certifications:{name}", args=["nope"])).status_code == 404


def test_index_lists_certifications_with_counts(staff, certification, candidates, unfinished):
    response = staff.get(reverse("certifications:staff_index"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Demo Practitioner" in html
    assert reverse("certifications:staff_statistics", args=[certification.key]) in html
    row = html.split('data-certification="demo-practitioner"')[1].split("</tr>")[0]
    assert "<td data-attempts>35</td>" in row
    assert "<td data-graded>30</td>" in row
    assert "<td data-pass-rate>37%</td>" in row


def test_statistics_page_shows_figures_flags_and_admin_links(
    staff, certification, candidates, django_assert_max_num_queries
):
    url = reverse("certifications:staff_statistics", args=[certification.key])
    with django_assert_max_num_queries(10):
        response = staff.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    item = Item.objects.get(key="alpha-06")
    assert reverse("admin:certifications_item_change", args=[item.pk]) in html
    row = html.split('data-item="alpha-06"')[1].split("</tr>")[0]
    assert "What about alpha-06?" in row
    assert "<td data-p>0.50</td>" in row
    assert 'data-flag="unpicked_distractor"' in row
    assert '<li data-option="c" data-unpicked>' in row
    row = html.split('data-item="alpha-03"')[1].split("</tr>")[0]
    assert "<td data-d>-1.00</td>" in row
    assert 'data-flag="negative_discrimination"' in row
    assert "30 graded attempts. 4 items flagged." in html


def _row_order(response) -> list[str]:
    return [part.split('"')[0] for part in response.content.decode().split('data-item="')[1:]]


def test_sorting_is_server_side_and_whitelisted(staff, certification, candidates):
    url = reverse("certifications:staff_statistics", args=[certification.key])

    by_domain = _row_order(staff.get(url))
    assert by_domain == list(PATTERNS)  # alpha-01 .. alpha-06, beta-01 .. beta-03

    by_d = _row_order(staff.get(url, {"sort": "d"}))
    assert by_d[0] == "alpha-03"  # D = -1 first
    assert _row_order(staff.get(url, {"sort": "-d"}))[-1] == "alpha-03"
    by_p = _row_order(staff.get(url, {"sort": "-p"}))
    assert by_p[0] == "alpha-02"

    # Anything but a whitelisted key falls back to the domain order, never to an ORM lookup.
    for hostile in ("item__certification__key", "-__class__", "p; drop", "--d"):
        response = staff.get(url, {"sort": hostile})
        assert response.status_code == 200
        assert _row_order(response) == by_domain


def test_statistics_page_filters_by_date_and_rejects_a_bad_one(staff, certification, candidates):
    url = reverse("certifications:staff_statistics", args=[certification.key])

    later = (START + timedelta(days=1)).date().isoformat()
    html = staff.get(url, {"since": later}).content.decode()
    assert "0 graded attempts" in html
    # The sort links and the downloads keep the date.
    assert f'href="?since={later}&amp;sort=d"' in html
    csv_url = reverse("certifications:staff_attempts_csv", args=[certification.key])
    assert f'href="{csv_url}?since={later}"' in html
    response = staff.get(url, {"since": "not-a-date"})
    assert response.status_code == 200
    assert "30 graded attempts" in response.content.decode()
    assert 'class="error"' in response.content.decode()


def test_statistics_page_in_spanish(staff, certification, candidates):
    with translation.override("es"):
        url = reverse("certifications:staff_statistics", args=[certification.key])
    assert url.startswith("/es/")

    response = staff.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="es">' in html
    assert "¿Y alpha-01?" in html  # the item's prompt in the page's language
    assert "What about alpha-01?" not in html
    assert "Alfa" in html


def test_attempts_csv_has_a_header_and_one_row_per_attempt(
    staff, certification, candidates, unfinished
):
    response = staff.get(reverse("certifications:staff_attempts_csv", args=[certification.key]))

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    date = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="demo-practitioner-attempts-{date}.csv"'
    )
    rows = _csv(response)
    assert rows[0][:2] == ["Attempt", "Username"]
    assert rows[0][-3:] == ["Alpha (%)", "Beta (%)", "Certificate"]
    assert len(rows) == 1 + CANDIDATES + len(unfinished)
    assert {row[0] for row in rows[1:]} == {
        str(a.public_id) for a in Attempt.objects.filter(certification=certification)
    }
    assert len({len(row) for row in rows}) == 1


def test_attempts_csv_neutralises_formulas(staff, certification):
    for name in ('=HYPERLINK("http://evil")', "+1+2", "-3", "@SUM(A1)", "plain"):
        _make_attempt(
            certification=certification,
            user=UserFactory(username=name),
            answers={"alpha-01": ["a"]},
        )

    rows = _csv(staff.get(reverse("certifications:staff_attempts_csv", args=[certification.key])))

    usernames = {row[1] for row in rows[1:]}
    assert usernames == {'\'=HYPERLINK("http://evil")', "'+1+2", "'-3", "'@SUM(A1)", "plain"}
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_csv_cell_leaves_numbers_and_safe_text_alone():
    assert csv_cell(-3) == -3
    assert csv_cell("ana") == "ana"
    assert csv_cell("\t=1") == "'\t=1"
    assert csv_cell("=1") == "'=1"


def test_attempts_csv_by_date(staff, certification, candidates):
    url = reverse("certifications:staff_attempts_csv", args=[certification.key])
    since = (START + timedelta(days=1)).date().isoformat()

    assert len(_csv(staff.get(url, {"since": since}))) == 1  # the header alone


def test_attempts_csv_in_spanish_keeps_spanish_text(staff, certification):
    _make_attempt(
        certification=certification,
        user=UserFactory(username="señora_núñez"),
        answers={"alpha-01": ["a"]},
    )
    with translation.override("es"):
        url = reverse("certifications:staff_attempts_csv", args=[certification.key])

    rows = _csv(staff.get(url))

    assert "Alfa (%)" in rows[0]
    assert rows[1][1] == "señora_núñez"


def test_item_statistics_csv(staff, certification, candidates):
    response = staff.get(reverse("certifications:staff_statistics_csv", args=[certification.key]))

    assert response.status_code == 200
    date = timezone.localdate().isoformat()
    assert (
        f'filename="demo-practitioner-item-statistics-{date}.csv"'
        in (response["Content-Disposition"])
    )
    rows = _csv(response)
    header, body = rows[0], rows[1:]
    assert len(body) == len(PATTERNS)
    by_key = {row[header.index("Item")]: dict(zip(header, row, strict=True)) for row in body}
    assert by_key["alpha-01"]["Discrimination (D)"] == "1.0"
    assert by_key["alpha-03"]["Discrimination (D)"] == "-1.0"  # a number, left as it is
    assert by_key["alpha-04"]["Discrimination (D)"] == "0.375"
    assert (
        by_key["alpha-06"]["Options (picked/offered, * correct)"] == "a: 15/30; b*: 15/30; c: 0/30"
    )
    assert "A distractor nobody picks" in by_key["alpha-06"]["Flags"]
    assert by_key["alpha-02"]["Difficulty (p)"] == "1.0"
    assert by_key["alpha-01"]["Prompt"] == "What about alpha-01?"


# --- Through the real exam flow --------------------------------------------------------------


def test_rows_written_by_the_exam_flow(client, certification):
    """Attempts started, answered and submitted by exams.py: the figures follow its rows."""
    from academy.certifications import exams
    from academy.courses.models import Lesson, LessonProgress

    now = timezone.now()
    attempts = []
    for i in range(12):
        user = UserFactory()
        for lesson in Lesson.objects.filter(course__key="demo-course"):
            LessonProgress.objects.create(
                user=user, lesson=lesson, last_visited_at=now, completed_at=now
            )
        attempt = exams.attempt_start(user=user, certification=certification, language="en")
        for index, question in enumerate(attempt.questions.order_by("position")):
            wrong = [pk for pk in question.option_order if pk not in question.correct_options]
            right = index < i % 4
            exams.attempt_answer(
                attempt=attempt,
                position=question.position,
                option_ids=list(question.correct_options) if right else wrong[:1],
            )
        attempts.append(exams.attempt_submit(attempt=attempt))
    assert {a.state for a in attempts} == {Attempt.State.GRADED}

    stats = _by_key(item_statistics(certification=certification, min_draws=1))
    questions = AttemptQuestion.objects.filter(attempt__in=attempts)
    assert sum(s.drawn for s in stats.values()) == questions.count() == 12 * 3
    for key, statistic in stats.items():
        drawn = questions.filter(item__key=key)
        assert statistic.drawn == drawn.count()
        assert statistic.correct == drawn.filter(correct=True).count()
        assert sum(o.offered for o in statistic.options) == sum(len(q.option_order) for q in drawn)

    header, *rows = attempts_csv_rows(certification=certification)
    assert len(rows) == 12
    alpha, beta = header.index("Alpha (%)"), header.index("Beta (%)")
    for attempt in Attempt.objects.filter(certification=certification):
        (row,) = [row for row in rows if row[0] == str(attempt.public_id)]
        assert row[header.index("Score (%)")] == attempt.score
        scores = {entry["domain"]: entry for entry in attempt.domain_scores}
        for column, key in ((alpha, "alpha"), (beta, "beta")):
            entry = scores[key]
            assert row[column] == round(100 * entry["points"] / entry["possible"])
        has_certificate = Certificate.objects.filter(attempt=attempt).exists()
        assert bool(row[-1]) == has_certificate
    # i % 4 == 3 answers all three right: those pass.
    assert sum(1 for row in rows if row[header.index("Passed")] == "yes") == 3
    assert sum(1 for row in rows if row[-1]) == 3  # their certificates
