"""How fast an exam runs on the server: start (the draw), saving one answer, submit-and-grade
(with the certificate signed on a pass), and credentials signed and verified per second.

Baselines measured in the same run:
- for the web requests, a bare Django view through the same middleware (POST, CSRF off as for
  the test client), so the figures read as "this many times a view that does nothing";
- for credentials, a raw Ed25519 signature and verification of the same canonical bytes with
  the same library, so the figure shows what JSON-LD canonicalization (RDFC-1.0) adds.

    .venv/bin/python bench/bench_exams.py [--candidates 30] [--credentials 30]

A scratch SQLite database with the real content; no Docker needed (no practical task is started,
so submit grades the questions and signs the certificate right away, as for a candidate who
skipped the tasks).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SCRATCH = Path(tempfile.mkdtemp(prefix="bench-exams-"))
atexit.register(shutil.rmtree, SCRATCH, ignore_errors=True)
os.environ["DATABASE_URL"] = f"sqlite:///{SCRATCH}/db.sqlite3"
os.environ["ACADEMY_ISSUER_KEY_FILE"] = str(SCRATCH / "issuer-key.pem")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import path, reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.views.decorators.http import require_POST  # noqa: E402

from academy import urls as site_urls  # noqa: E402
from academy.certifications import certificates  # noqa: E402
from academy.certifications.credentials import badges, proofs, verify  # noqa: E402
from academy.certifications.models import Attempt, Certification  # noqa: E402
from academy.courses.models import Lesson, LessonProgress  # noqa: E402
from bench.figures import record  # noqa: E402

CANDIDATES = 30
CREDENTIALS = 30


@require_POST
def bare(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("bare/", bare), *site_urls.urlpatterns]


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms (max {max(values) * 1000:6.1f})"


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def candidate(certification: Certification, number: int):
    user = get_user_model().objects.create_user(f"candidate{number}", password="x" * 20)
    now = timezone.now()
    lessons = Lesson.objects.filter(course__key__in=certification.prerequisites["courses"])
    LessonProgress.objects.bulk_create(
        LessonProgress(user=user, lesson=lesson, last_visited_at=now, completed_at=now)
        for lesson in lessons
    )
    return user


def main() -> None:
    import logging

    global CANDIDATES, CREDENTIALS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=CANDIDATES)
    parser.add_argument("--credentials", type=int, default=CREDENTIALS)
    args = parser.parse_args()
    CANDIDATES, CREDENTIALS = args.candidates, args.credentials

    logging.disable(logging.INFO)  # one line per certificate issued is noise here
    call_command("migrate", verbosity=0)
    call_command("sync_content", verbosity=0)
    certificates.issuer_key_create()
    certification = Certification.objects.get(key="chaos-engineering-practitioner")
    rows = []
    with override_settings(
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["testserver"],
        LAB_RATE_LIMITS={},  # the limits are counted, not exercised: one client does it all
    ):
        client = Client()
        bare_times, start_times, answer_times, submit_times = [], [], [], []
        for number in range(CANDIDATES):
            user = candidate(certification, number)
            client.force_login(user)
            bare_times.append(timed(lambda: client.post("/bare/")))
            start_url = reverse("certifications:start", kwargs={"slug": certification.slug})
            start_times.append(timed(lambda u=start_url: client.post(u, {"language": "en"})))
            attempt = Attempt.objects.get(user=user)
            answer_url = reverse("certifications:answer", kwargs={"public_id": attempt.public_id})
            for question in attempt.questions.all():
                body = json.dumps(
                    {"position": question.position, "options": question.correct_options}
                )
                answer_times.append(
                    timed(
                        lambda b=body, u=answer_url: client.post(
                            u, b, content_type="application/json"
                        )
                    )
                )
            submit_url = reverse("certifications:submit", kwargs={"public_id": attempt.public_id})
            submit_times.append(timed(lambda u=submit_url: client.post(u)))
            attempt.refresh_from_db()
            assert attempt.passed and attempt.certificate, "every candidate passes"
        base = statistics.median(bare_times)
        for name, values in (
            ("exam start (eligibility + draw)", start_times),
            ("exam: save one answer", answer_times),
            ("exam submit-and-grade (+ certificate signed)", submit_times),
        ):
            record(
                f"{name}, median",
                statistics.median(values),
                "s",
                baseline="minimal Django view, POST, same middleware (test client)",
                baseline_value=base,
                notes=f"{CANDIDATES} candidates, {certification.questions} questions",
            )
        for name, values in (
            ("bare view (POST, baseline)", bare_times),
            ("start: eligibility + draw", start_times),
            ("save one answer", answer_times),
            ("submit: grade + sign certificate", submit_times),
        ):
            ratio = statistics.median(values) / base
            rows.append((name, ms(values), f"{ratio:6.1f}x"))

    print(f"\nExams on the server ({CANDIDATES} candidates, {certification.questions} questions)")
    for name, figure, ratio in rows:
        print(f"  {name:34} {figure}  {ratio}")

    key = certificates.issuer_key_current()
    credential = Attempt.objects.first().certificate.credential
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    canonical = proofs.canonicalize(unsigned).encode()
    signatures = [timed(lambda: badges.sign(dict(unsigned), key)) for _ in range(CREDENTIALS)]
    checks = [timed(lambda: verify.verify(credential)) for _ in range(CREDENTIALS)]
    raw_sign = [timed(lambda: key.private_key.sign(canonical)) for _ in range(CREDENTIALS)]
    signature = key.private_key.sign(canonical)
    raw_verify = [
        timed(lambda: key.public_key.verify(signature, canonical)) for _ in range(CREDENTIALS)
    ]

    def per_second(values: list[float]) -> str:
        return f"{1 / statistics.median(values):10.0f} /s"

    print(f"\nCredentials ({CREDENTIALS} runs each, medians)")
    for name, values, baseline in (
        ("sign (canonicalize + Ed25519)", signatures, raw_sign),
        ("verify (structure + proof)", checks, raw_verify),
    ):
        ratio = statistics.median(values) / statistics.median(baseline)
        record(
            f"credential {name.split(' ')[0]}: per second",
            1 / statistics.median(values),
            "/s",
            baseline="raw Ed25519 on the same canonical bytes",
            baseline_value=1 / statistics.median(baseline),
            notes=f"{name}; median of {CREDENTIALS}",
        )
        print(
            f"  {name:34} {per_second(values)}   raw Ed25519 {per_second(baseline)}   {ratio:8.0f}x"
        )


if __name__ == "__main__":
    main()
