from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from academy.courses.models import Course
from academy.courses.services import content_sync
from academy.workshops import selectors, services
from tests.content_tree import write_demo_course
from tests.factories import UserFactory
from tests.labs_tree import write_faults_lab, write_tiny_lab

COURSE = "demo-course"


def write_workshop_content(root):
    """The demo course with two labs that practise its lessons, and one lab of no course."""
    write_demo_course(root)
    write_tiny_lab(root)
    with (root / "labs/tiny-lab/lab.yaml").open("a", encoding="utf-8") as lab_yaml:
        lab_yaml.write("lessons:\n  - demo-course/first-lesson\n")
    write_faults_lab(root)
    with (root / "labs/faults-lab/lab.yaml").open("a", encoding="utf-8") as lab_yaml:
        lab_yaml.write("lessons:\n  - demo-course/second-lesson\n")
    lone = root / "labs/lone-lab"
    (root / "labs/tiny-lab").rename(lone)
    write_tiny_lab(root)
    with (root / "labs/tiny-lab/lab.yaml").open("a", encoding="utf-8") as lab_yaml:
        lab_yaml.write("lessons:\n  - demo-course/first-lesson\n")
    text = (lone / "lab.yaml").read_text(encoding="utf-8")
    text = text.replace("tiny-lab", "lone-lab").replace("laboratorio-minimo", "lab-solo")
    text = text.replace("Tiny lab", "Lone lab").replace(
        "lessons:\n  - demo-course/first-lesson\n", ""
    )
    (lone / "lab.yaml").write_text(text, encoding="utf-8")
    return root


def make_instructor(**kwargs):
    user = UserFactory(**kwargs)
    # get_or_create: transactional tests flush the group its data migration made.
    user.groups.add(Group.objects.get_or_create(name="instructors")[0])
    return user


@pytest.fixture
def instructor(db):
    return make_instructor()


@pytest.fixture
def workshop_content(db, tmp_path):
    return content_sync(root=write_workshop_content(tmp_path))


@pytest.fixture
def course(workshop_content) -> Course:
    return Course.objects.get(key=COURSE)


@pytest.fixture
def make_workshop(course, instructor):
    def make(*, by=None, language="es", capacity=30, starts_in=timedelta(minutes=10), **kwargs):
        now = timezone.now()
        labs = selectors.course_labs(course=course)[:2]
        return services.workshop_create(
            created_by=by or instructor,
            title=kwargs.pop("title", "Taller de caos"),
            language=language,
            starts_at=now + starts_in,
            ends_at=now + starts_in + timedelta(hours=3),
            time_zone="America/Costa_Rica",
            course=course,
            labs=labs,
            capacity=capacity,
            **kwargs,
        )

    return make


@pytest.fixture
def workshop(make_workshop):
    return make_workshop()
