import pytest
from django.utils import timezone

from academy.certifications import certificates
from academy.certifications.models import Attempt, Certification
from academy.contentsync import content_sync
from tests.certifications.content_tree import write_demo_certification
from tests.content_tree import write_demo_course


@pytest.fixture(autouse=True)
def issuer_key_file(settings, tmp_path_factory):
    """An issuer key of the test's own, never the developer's (~/.config/...)."""
    directory = tmp_path_factory.mktemp("issuer")
    settings.ACADEMY_ISSUER_KEY_FILE = directory / "issuer-key.pem"
    certificates.issuer_key_create()
    return settings.ACADEMY_ISSUER_KEY_FILE


@pytest.fixture
def demo_certification(tmp_path):
    write_demo_course(tmp_path)
    write_demo_certification(tmp_path)
    content_sync(root=tmp_path)
    return Certification.objects.get(key="demo-practitioner")


def passed_attempt(user, certification, *, language="en"):
    now = timezone.now()
    return Attempt.objects.create(
        certification=certification,
        user=user,
        language=language,
        state=Attempt.State.GRADED,
        deadline=now,
        submitted_at=now,
        graded_at=now,
        pass_mark=70,
        points=3,
        points_possible=3,
        score=100,
        passed=True,
    )
