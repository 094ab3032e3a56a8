"""Pages promise only what exists: now that certifications exist, the home page, the course
pages and the profile lead to them, and nothing says they are still on their way."""

import pytest
from django.urls import reverse
from django.utils import translation

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("language", ["en", "es"])
def test_home_course_and_profile_lead_to_the_certifications(client, real_content, language):
    with translation.override(language):
        catalogue = reverse("certifications:catalogue")
        home = reverse("home")
        course = reverse("courses:course", kwargs={"course_slug": _course_slug(language)})
        profile = reverse("accounts:profile")
        detail = reverse("certifications:detail", kwargs={"slug": _certification_slug(language)})
    page = client.get(home).content.decode()
    assert catalogue in page and detail in page
    assert "none is awarded yet" not in page and "todavía no se otorga" not in page
    assert detail in client.get(course).content.decode()
    user = UserFactory(preferred_language=language)
    assert client.login(username=user.username, password=PASSWORD)
    assert catalogue in client.get(profile).content.decode()
    assert client.get(catalogue).status_code == 200
    assert client.get(f"/{language}/certificates/").status_code == 200


def _course_slug(language):
    from academy.courses.models import Course

    return getattr(Course.objects.get(key="chaos-engineering-foundations"), f"slug_{language}")


def _certification_slug(language):
    from academy.certifications.models import Certification

    certification = Certification.objects.get(key="chaos-engineering-practitioner")
    return getattr(certification, f"slug_{language}")
