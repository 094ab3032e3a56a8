"""Workshops without HTTP: creation rules, join codes, display names, joining, resuming."""

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from academy.workshops import selectors, services
from academy.workshops.models import (
    CODE_ALPHABET,
    Attendee,
    Workshop,
)
from labs.models import Lab
from tests.factories import UserFactory
from tests.workshops.conftest import make_instructor

pytestmark = pytest.mark.django_db


def test_a_workshop_gets_a_code_from_the_unambiguous_alphabet(workshop, course):
    assert len(workshop.code) == 6
    assert set(workshop.code) <= set(CODE_ALPHABET)
    assert not set("01OILUV") & set(CODE_ALPHABET)
    assert [lab.key for lab in workshop.ordered_labs()] == [
        lab.key for lab in selectors.course_labs(course=course)[:2]
    ]
    assert workshop.state == Workshop.State.SCHEDULED
    assert workshop.slug.startswith("taller-de-caos-")


def test_the_course_labs_are_the_labs_of_that_course_only(course):
    keys = {lab.key for lab in selectors.course_labs(course=course)}
    assert keys == {"tiny-lab", "faults-lab"}
    assert "lone-lab" not in keys  # a lab of no course


def test_only_instructors_create_and_only_with_the_courses_labs(course, instructor):
    now = timezone.now()
    fields = {
        "title": "T",
        "language": "en",
        "starts_at": now + timedelta(hours=1),
        "ends_at": now + timedelta(hours=2),
        "time_zone": "UTC",
        "course": course,
        "labs": selectors.course_labs(course=course)[:1],
        "capacity": 10,
    }
    with pytest.raises(services.WorkshopError):
        services.workshop_create(created_by=UserFactory(), **fields)
    with pytest.raises(services.WorkshopError) as error:
        services.workshop_create(
            created_by=instructor, **{**fields, "labs": [Lab.objects.get(key="lone-lab")]}
        )
    assert error.value.code == "labs"
    for capacity in (0, 201):
        with pytest.raises(services.WorkshopError):
            services.workshop_create(created_by=instructor, **{**fields, "capacity": capacity})
    with pytest.raises(services.WorkshopError):
        services.workshop_create(created_by=instructor, **{**fields, "ends_at": now})
    assert not Workshop.objects.exists()


def test_join_codes_are_unique_only_among_workshops_that_have_not_ended(make_workshop):
    first = make_workshop()
    second = make_workshop()
    assert first.code != second.code
    with pytest.raises(IntegrityError):
        Workshop.objects.filter(pk=second.pk).update(code=first.code)


def test_an_ended_workshops_code_can_be_used_again(make_workshop):
    first = make_workshop()
    Workshop.objects.filter(pk=first.pk).update(state=Workshop.State.ENDED)
    second = make_workshop()
    Workshop.objects.filter(pk=second.pk).update(code=first.code)  # no IntegrityError
    assert selectors.workshop_get_open_by_code(code=first.code.lower()).pk == second.pk


@pytest.mark.parametrize("typed", ["{code}", "{lower}", " {lower} ", "{a}-{b}", "{a} {b}"])
def test_codes_are_found_whatever_the_case_and_spacing(workshop, typed):
    code = workshop.code
    text = typed.format(code=code, lower=code.lower(), a=code[:3].lower(), b=code[3:])
    assert selectors.workshop_get_open_by_code(code=text) == workshop


def test_a_malformed_code_finds_nothing(workshop):
    for code in ["", "ABC", "0" * 6, workshop.code + "X", "x" * 10_000]:
        assert selectors.workshop_get_open_by_code(code=code) is None


@pytest.mark.parametrize(
    "raw",
    [
        "a" * 10_240,
        "Ana\x00",
        "Ana\x1b[31m",
        "Ana\u202eevil",  # right-to-left override
        "An\u200ba",  # zero-width space
        "   ",
        "",
    ],
)
def test_hostile_display_names_are_refused(workshop, raw):
    with pytest.raises(services.WorkshopError) as error:
        services.attendee_join(workshop=workshop, display_name=raw)
    assert error.value.code == "display_name"
    assert not Attendee.objects.exists()


def test_display_names_are_trimmed_and_html_is_kept_as_text(workshop):
    attendee, _code = services.attendee_join(
        workshop=workshop, display_name="  <b>Ana</b>\t  María "
    )
    assert attendee.display_name == "<b>Ana</b> María"


def test_a_taken_display_name_gets_a_suggestion(workshop):
    services.attendee_join(workshop=workshop, display_name="Ana")
    services.attendee_join(workshop=workshop, display_name="Ana 2")
    with pytest.raises(services.WorkshopError) as error:
        services.attendee_join(workshop=workshop, display_name="ANA")
    assert error.value.code == "name_taken"
    assert error.value.suggestion == "ANA 3"  # what they typed, with a free number
    assert workshop.attendees.count() == 2


def test_a_join_makes_a_guest_account_with_no_password(workshop):
    attendee, code = services.attendee_join(workshop=workshop, display_name="Ana")
    user = attendee.user
    assert not user.has_usable_password()
    assert user.email == ""
    assert user.preferred_language == "es"
    assert attendee.is_guest
    assert len(code) == 8 and set(code) <= set(CODE_ALPHABET)
    assert code not in attendee.resume_code_hash  # stored as an HMAC only
    assert attendee.resume_code_hash == services.resume_code_digest(workshop=workshop, code=code)


def test_a_full_workshop_refuses_one_more(make_workshop):
    workshop = make_workshop(capacity=2)
    services.attendee_join(workshop=workshop, display_name="Ana")
    services.attendee_join(workshop=workshop, display_name="Bea")
    with pytest.raises(services.WorkshopError) as error:
        services.attendee_join(workshop=workshop, display_name="Cai")
    assert error.value.code == "closed"
    assert "full" in error.value.message
    assert workshop.attendees.count() == 2


def test_joining_opens_an_hour_before_and_closes_at_the_end(make_workshop, settings):
    settings.WORKSHOP_JOIN_OPENS_MINUTES = 60
    later = make_workshop(starts_in=timedelta(minutes=61))
    with pytest.raises(services.WorkshopError) as error:
        services.attendee_join(workshop=later, display_name="Ana")
    assert "Joining opens at" in error.value.message
    soon = make_workshop(starts_in=timedelta(minutes=59))
    services.attendee_join(workshop=soon, display_name="Ana")
    over = make_workshop(starts_in=timedelta(hours=-4))  # ended an hour ago
    with pytest.raises(services.WorkshopError) as error:
        services.attendee_join(workshop=over, display_name="Ana")
    assert "ended" in error.value.message
    Workshop.objects.filter(pk=soon.pk).update(state=Workshop.State.ENDED)
    soon.refresh_from_db()
    with pytest.raises(services.WorkshopError):
        services.attendee_join(workshop=soon, display_name="Bea")


def test_the_resume_code_finds_the_attendee_and_nothing_else(make_workshop):
    workshop = make_workshop()
    other = make_workshop()
    attendee, code = services.attendee_join(workshop=workshop, display_name="Ana")
    assert services.attendee_resume(workshop=workshop, resume_code=code.lower()) == attendee
    assert services.attendee_resume(workshop=other, resume_code=code) is None
    wrong = ("A" if code[0] != "A" else "B") + code[1:]
    assert services.attendee_resume(workshop=workshop, resume_code=wrong) is None
    assert services.attendee_resume(workshop=workshop, resume_code="") is None


def test_a_renewed_resume_code_replaces_the_old_one(workshop):
    attendee, old = services.attendee_join(workshop=workshop, display_name="Ana")
    new = services.attendee_resume_code_renew(attendee=attendee)
    assert services.attendee_resume(workshop=workshop, resume_code=new) == attendee
    assert services.attendee_resume(workshop=workshop, resume_code=old) is None


def test_update_is_for_the_workshops_own_instructors(workshop, course):
    fields = {
        "title": "Nuevo",
        "language": workshop.language,
        "starts_at": workshop.starts_at,
        "ends_at": workshop.ends_at,
        "time_zone": workshop.time_zone,
        "course": course,
        "labs": workshop.ordered_labs()[:1],
        "capacity": 5,
    }
    with pytest.raises(services.WorkshopError):
        services.workshop_update(workshop=workshop, by=make_instructor(), **fields)
    workshop.refresh_from_db()
    assert workshop.title == "Taller de caos"
    by = workshop.instructors.get()
    services.workshop_update(workshop=workshop, by=by, **fields)
    workshop.refresh_from_db()
    assert workshop.title == "Nuevo" and len(workshop.ordered_labs()) == 1


def test_capacity_cannot_drop_below_those_who_joined(workshop, course):
    for name in ("Ana", "Bea", "Cai"):
        services.attendee_join(workshop=workshop, display_name=name)
    with pytest.raises(services.WorkshopError) as error:
        services.workshop_update(
            workshop=workshop,
            by=workshop.instructors.get(),
            title=workshop.title,
            language=workshop.language,
            starts_at=workshop.starts_at,
            ends_at=workshop.ends_at,
            time_zone=workshop.time_zone,
            course=course,
            labs=workshop.ordered_labs(),
            capacity=2,
        )
    assert error.value.code == "capacity"
    workshop.refresh_from_db()
    assert workshop.capacity == 30
