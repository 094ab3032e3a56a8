"""The workshop pages over HTTP: who may see what, joining, resuming, claiming."""

import datetime
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from academy.workshops import services
from academy.workshops.models import Attendee, Workshop
from labs.models import CheckResult, Lab, LabSession
from tests.factories import PASSWORD, UserFactory
from tests.workshops.conftest import make_instructor

pytestmark = pytest.mark.django_db


def url(name: str, language: str = "en", **kwargs) -> str:
    with translation.override(language):
        return reverse(f"workshops:{name}", kwargs=kwargs or None)


def join(client: Client, workshop: Workshop, name: str, **extra):
    return client.post(url("join_code", code=workshop.code), {"display_name": name}, **extra)


# --- Instructors --------------------------------------------------------------------------------


def test_a_non_instructor_can_neither_create_nor_see_workshops(client, workshop):
    client.force_login(UserFactory())
    for page in (
        url("instructor_list"),
        url("create"),
        url("manage", pk=workshop.pk),
        url("edit", pk=workshop.pk),
        url("projector", pk=workshop.pk),
    ):
        assert client.get(page).status_code == 404, page
    response = client.post(url("create"), {"title": "Mine now", "capacity": 5})
    assert response.status_code == 404
    assert Workshop.objects.count() == 1


def test_signed_out_visitors_are_sent_to_sign_in(client, workshop):
    response = client.get(url("manage", pk=workshop.pk))
    assert response.status_code == 302
    assert response["Location"].startswith("/en/accounts/sign-in/")


def test_an_instructor_sees_only_their_workshops_and_co_instructors_theirs(
    client, make_workshop, instructor
):
    colleague = make_instructor(username="colleague")
    stranger = make_instructor(username="stranger")
    shared = make_workshop(title="Shared one", co_instructors=[colleague])
    own = make_workshop(title="Mine alone")
    theirs = make_workshop(by=stranger, title="Somebody else's")

    client.force_login(colleague)
    html = client.get(url("instructor_list")).content.decode()
    assert "Shared one" in html and "Mine alone" not in html and "Somebody else" not in html
    assert client.get(url("manage", pk=shared.pk)).status_code == 200
    assert client.get(url("manage", pk=own.pk)).status_code == 404
    assert client.get(url("projector", pk=theirs.pk, language="es")).status_code == 404

    client.force_login(instructor)
    html = client.get(url("instructor_list")).content.decode()
    assert "Shared one" in html and "Mine alone" in html and "Somebody else" not in html
    assert client.get(url("edit", pk=theirs.pk)).status_code == 404
    assert client.post(url("edit", pk=theirs.pk), {"title": "Hijacked"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.title == "Somebody else's"


def test_staff_are_instructors_but_still_see_only_their_own(client, workshop):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert client.get(url("instructor_list")).status_code == 200
    assert client.get(url("manage", pk=workshop.pk)).status_code == 404


def _form(course, labs, **changes):
    now = timezone.now() + timedelta(days=2)
    data = {
        "title": "Caos en vivo",
        "language": "es",
        "starts_at": now.strftime("%Y-%m-%dT18:00"),
        "ends_at": now.strftime("%Y-%m-%dT21:00"),
        "time_zone": "America/Mexico_City",
        "course": str(course.pk),
        "labs": [str(lab.pk) for lab in labs],
        "capacity": "40",
        "co_instructors": "",
    }
    data.update(changes)
    return data


def test_an_instructor_creates_a_workshop_in_the_venues_time_zone(client, instructor, course):
    client.force_login(instructor)
    labs = [Lab.objects.get(key="faults-lab"), Lab.objects.get(key="tiny-lab")]
    response = client.post(url("create"), _form(course, labs))
    workshop = Workshop.objects.get()
    assert response["Location"] == url("manage", pk=workshop.pk)
    assert workshop.instructors.get() == instructor
    # 18:00 in Mexico City (UTC-6, no daylight saving since 2022) is 00:00 UTC.
    assert workshop.starts_at.astimezone(datetime.UTC).hour == 0
    # The course's order, whatever order the browser sent.
    assert [lab.key for lab in workshop.ordered_labs()] == ["tiny-lab", "faults-lab"]
    page = client.get(response["Location"]).content.decode()
    assert workshop.code in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"capacity": "0"}, "capacity", "between 1 and 200"),
        ({"capacity": "201"}, "capacity", "between 1 and 200"),
        ({"capacity": "many"}, "capacity", "whole number"),
        ({"ends_at": "2020-01-01T10:00"}, "ends_at", "end after it starts"),
        ({"starts_at": "tomorrow"}, "starts_at", "Enter a date and time"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "Choose one of the options"),
        ({"co_instructors": "nobody-by-this-name"}, "co_instructors", "Nobody has the username"),
        ({"title": "x" * 201}, "title", "at most 200 characters"),
    ],
)
def test_bad_input_shows_field_errors_and_changes_nothing(
    client, instructor, course, changes, field, message
):
    client.force_login(instructor)
    labs = [Lab.objects.get(key="tiny-lab")]
    response = client.post(url("create"), _form(course, labs, **changes))
    assert response.status_code == 200
    assert message in str(response.context["form"].errors[field])
    assert not Workshop.objects.exists()


def test_labs_of_another_course_are_refused(client, instructor, course):
    client.force_login(instructor)
    response = client.post(url("create"), _form(course, [Lab.objects.get(key="lone-lab")]))
    assert "Choose only labs of the course" in str(response.context["form"].errors["labs"])
    assert not Workshop.objects.exists()


def test_a_co_instructor_must_be_an_instructor(client, instructor, course):
    UserFactory(username="learner-bob")
    client.force_login(instructor)
    data = _form(course, [Lab.objects.get(key="tiny-lab")], co_instructors="learner-bob")
    response = client.post(url("create", language="es"), data)
    assert "learner-bob" in str(response.context["form"].errors["co_instructors"])
    assert not Workshop.objects.exists()


def test_the_projector_shows_the_code_and_a_qr_code_in_the_rooms_language(
    client, instructor, workshop
):
    client.force_login(instructor)
    response = client.get(url("projector", pk=workshop.pk, language="en"))
    assert response.status_code == 302  # the room speaks Spanish
    assert response["Location"] == url("projector", pk=workshop.pk, language="es")
    html = client.get(response["Location"]).content.decode()
    assert f"{workshop.code[:3]} {workshop.code[3:]}" in html
    assert 'class="workshop-qr"' in html and "<svg" in html
    assert url("join", language="es") in html


# --- Joining ------------------------------------------------------------------------------------


def test_joining_with_a_lower_case_code_and_a_name(client, workshop):
    response = client.post(
        url("join"), {"code": f" {workshop.code.lower()[:3]}-{workshop.code[3:]}"}
    )
    assert response["Location"] == url("join_code", code=workshop.code)
    response = join(client, workshop, "  Ana  ")
    attendee = Attendee.objects.get()
    assert response["Location"] == url("home", language="es", slug=workshop.slug)
    assert attendee.display_name == "Ana"
    home = client.get(response["Location"])
    assert home.status_code == 200
    html = home.content.decode()
    resume_code = client.session["workshop_resume_code"]["code"]
    assert resume_code in html
    assert client.session.get_expiry_date() > workshop.ends_at  # lasts the workshop
    # The same browser, back at the join page, goes straight to its labs.
    again = client.get(url("join_code", code=workshop.code))
    assert again["Location"] == url("home", slug=workshop.slug)
    # Once written down, the code is not shown again.
    client.post(url("resume_code_hide", slug=workshop.slug))
    assert resume_code not in client.get(url("home", slug=workshop.slug)).content.decode()


def test_an_unknown_code_says_so(client, workshop):
    response = client.post(url("join", language="es"), {"code": "ZZZZZZ"})
    assert response.status_code == 200
    assert "ZZZZZZ" in str(response.context["form"].errors["code"])
    response = client.get(url("join_code", code="ZZZZZZ"))
    assert response.status_code == 404


def test_a_full_workshop_says_so_and_makes_no_account(client, make_workshop):
    workshop = make_workshop(capacity=1)
    join(Client(), workshop, "Ana")
    users = UserFactory._meta.model.objects.count()
    response = join(client, workshop, "Bea")
    assert response.status_code == 200
    assert "This workshop is full" in response.content.decode()
    assert UserFactory._meta.model.objects.count() == users
    assert "_auth_user_id" not in client.session


def test_an_ended_workshop_refuses_joins(client, workshop):
    Workshop.objects.filter(pk=workshop.pk).update(state=Workshop.State.ENDED)
    response = client.get(url("join_code", code=workshop.code))
    assert response.status_code == 404  # its code is free: no open workshop has it
    now = timezone.now()
    Workshop.objects.filter(pk=workshop.pk).update(
        state=Workshop.State.SCHEDULED,
        starts_at=now - timedelta(hours=3),
        ends_at=now - timedelta(minutes=1),
    )
    response = join(client, workshop, "Ana")
    assert "This workshop has ended" in response.content.decode()
    assert not Attendee.objects.exists()


def test_a_workshop_not_open_yet_says_when(client, make_workshop):
    workshop = make_workshop(starts_in=timedelta(hours=3))
    html = client.get(url("join_code", code=workshop.code)).content.decode()
    assert "Joining opens at" in html
    assert not Attendee.objects.exists()


def test_a_taken_name_is_refused_with_a_suggestion(client, workshop):
    join(Client(), workshop, "Ana")
    response = join(client, workshop, "ana")
    form = response.context["form"]
    assert "already called" in str(form.errors["display_name"])
    assert form["display_name"].value() == "ana 2"
    assert Attendee.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("A" * 10_240, "at most 40 characters"),
        ("Ana\x07", "letters, digits"),
        ("\u202eAna", "letters, digits"),
    ],
)
def test_hostile_display_names_are_refused_over_http(client, workshop, name, error):
    response = join(client, workshop, name)
    assert response.status_code == 200
    assert error in str(response.context["form"].errors)
    assert "A" * 81 not in response.content.decode()  # a 10 KB name is not echoed back
    assert not Attendee.objects.exists()


def test_html_in_a_display_name_is_shown_as_text(client, workshop, instructor):
    join(client, workshop, "<script>alert(1)</script>")
    html = client.get(url("home", slug=workshop.slug)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    client.force_login(instructor)
    html = client.get(url("manage", pk=workshop.pk)).content.decode()
    assert "<script>alert(1)</script>" not in html


# --- Resuming -----------------------------------------------------------------------------------


def test_the_resume_code_signs_in_on_another_browser(workshop):
    first = Client()
    join(first, workshop, "Ana")
    code = first.session["workshop_resume_code"]["code"]
    other = Client()
    response = other.post(url("resume"), {"code": workshop.code.lower(), "resume_code": code})
    assert response["Location"] == url("home", slug=workshop.slug)
    assert other.get(response["Location"]).status_code == 200
    assert int(other.session["_auth_user_id"]) == Attendee.objects.get().user_id


def test_a_wrong_resume_code_is_refused(client, workshop):
    join(Client(), workshop, "Ana")
    response = client.post(url("resume"), {"code": workshop.code, "resume_code": "ABCDEFGH"})
    assert response.status_code == 200
    assert "not right" in str(response.context["form"].errors["resume_code"])
    assert "_auth_user_id" not in client.session


def test_sixty_joins_from_one_address_pass_but_resume_guessing_is_throttled(
    make_workshop, settings
):
    """A room of 60 behind one NAT address joins; one address guessing resume codes is slowed
    down after WORKSHOP_RESUME_ADDRESS_FREE_FAILURES, whatever code it tries next."""
    workshop = make_workshop(capacity=80)
    room = "203.0.113.7"
    codes = []
    for number in range(60):
        browser = Client(REMOTE_ADDR=room)
        response = join(browser, workshop, f"Person {number}")
        assert response.status_code == 302, number
        codes.append(browser.session["workshop_resume_code"]["code"])
    assert workshop.attendees.count() == 60

    guesser = Client(REMOTE_ADDR="198.51.100.9")
    statuses = []
    for guess in range(settings.WORKSHOP_RESUME_ADDRESS_FREE_FAILURES + 3):
        response = guesser.post(
            url("resume"), {"code": workshop.code, "resume_code": f"ABCD{guess:04d}"}
        )
        statuses.append(response.status_code)
    assert 429 in statuses
    # Throttled now, even with a right code: the guesser learns nothing more.
    response = guesser.post(url("resume"), {"code": workshop.code, "resume_code": codes[0]})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "_auth_user_id" not in guesser.session
    # The room's own address is not slowed down by the guesser's failures.
    back = Client(REMOTE_ADDR=room)
    response = back.post(url("resume"), {"code": workshop.code, "resume_code": codes[1]})
    assert response.status_code == 302


def test_resume_guessing_from_many_addresses_is_throttled_per_workshop(workshop, settings):
    settings.WORKSHOP_RESUME_WORKSHOP_FREE_FAILURES = 5
    join(Client(), workshop, "Ana")
    statuses = []
    for number in range(8):
        botnet = Client(REMOTE_ADDR=f"192.0.2.{number + 1}")
        response = botnet.post(url("resume"), {"code": workshop.code, "resume_code": "ABCDEFGH"})
        statuses.append(response.status_code)
    assert statuses[:5] == [200] * 5
    assert 429 in statuses[5:]


def test_guessing_join_codes_is_throttled_per_address(client, workshop, settings):
    settings.WORKSHOP_CODE_ADDRESS_FREE_FAILURES = 3
    statuses = [client.post(url("join"), {"code": f"ZZZZZ{n}"}).status_code for n in range(2, 7)]
    assert 429 in statuses
    assert client.post(url("join"), {"code": workshop.code}).status_code == 429


# --- Isolation between attendees ----------------------------------------------------------------


def test_an_attendee_cannot_open_another_attendees_lab_session(workshop):
    ana, bea = Client(), Client()
    join(ana, workshop, "Ana")
    join(bea, workshop, "Bea")
    lab = workshop.ordered_labs()[0]
    with translation.override("en"):
        start = reverse("labs:start", kwargs={"lab_slug": lab.slug})
    assert ana.post(start).status_code == 302
    session = LabSession.objects.get(user__workshop_attendances__display_name="Ana")
    for page in (f"/en/labs/sessions/{session.pk}/", f"/en/labs/sessions/{session.pk}/status/"):
        assert bea.get(page).status_code == 404
        assert ana.get(page).status_code == 200
    assert bea.post(f"/en/labs/sessions/{session.pk}/stop/").status_code == 404
    assert bea.post(f"/en/labs/sessions/{session.pk}/steps/1/check/").status_code == 404
    session.refresh_from_db()
    assert session.is_live
    # Nor another attendee's home page.
    assert bea.get(url("home", slug=workshop.slug)).status_code == 200
    assert Client().get(url("home", slug=workshop.slug)).status_code == 302


def test_someone_who_did_not_join_has_no_home_in_the_workshop(client, workshop):
    client.force_login(UserFactory())
    assert client.get(url("home", slug=workshop.slug)).status_code == 404
    assert client.get(url("claim", slug=workshop.slug)).status_code == 404


# --- Claiming -----------------------------------------------------------------------------------


def test_claiming_keeps_the_progress_and_signs_in_with_a_password(client, workshop):
    join(client, workshop, "Ana")
    attendee = Attendee.objects.get()
    lab = workshop.ordered_labs()[0]
    session = LabSession.objects.create(user=attendee.user, lab=lab, state=LabSession.State.READY)
    step = lab.steps.first()
    CheckResult.objects.create(session=session, step=step, passed=True, duration_ms=5)

    bad = client.post(
        url("claim", slug=workshop.slug),
        {"username": "ana", "email": "not-an-email", "password1": "x", "password2": "y"},
    )
    assert bad.status_code == 200
    attendee.refresh_from_db()
    assert not attendee.claimed and not attendee.user.has_usable_password()

    response = client.post(
        url("claim", slug=workshop.slug),
        {
            "username": "ana-r",
            "email": "ana@example.org",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response["Location"] == url("home", slug=workshop.slug)
    attendee.refresh_from_db()
    user = attendee.user
    assert attendee.claimed and user.username == "ana-r" and user.email == "ana@example.org"
    assert user.check_password(PASSWORD)
    # Still signed in here, and the progress is the same account's.
    html = client.get(url("home", slug=workshop.slug)).content.decode()
    assert "1 of 1 steps passed" in html
    assert "Your labs (1 of 2 completed)" in html
    fresh = Client()
    assert fresh.login(username="ana-r", password=PASSWORD)
    assert fresh.get(f"/en/labs/sessions/{session.pk}/").status_code == 200


# --- Public page --------------------------------------------------------------------------------


def test_the_public_page_shows_the_plan_and_no_attendee(client, workshop):
    join(Client(), workshop, "Secret Person")
    services.attendee_join(workshop=workshop, display_name="Another One")
    html = client.get(url("public", language="es", slug=workshop.slug)).content.decode()
    assert "Taller de caos" in html
    for lab in workshop.ordered_labs():
        assert lab.title in html
    assert "Secret Person" not in html and "Another One" not in html
    assert workshop.code not in html  # the code is for the room
    assert "America/Costa_Rica" in html


def test_a_bad_edit_changes_nothing(client, instructor, workshop, course):
    client.force_login(instructor)
    before = (workshop.title, workshop.capacity, workshop.starts_at, workshop.ends_at)
    labs = workshop.ordered_labs()
    data = _form(course, labs, title="Changed", capacity="0")
    response = client.post(url("edit", pk=workshop.pk), data)
    assert response.status_code == 200
    assert "between 1 and 200" in str(response.context["form"].errors["capacity"])
    workshop.refresh_from_db()
    assert (workshop.title, workshop.capacity, workshop.starts_at, workshop.ends_at) == before
    assert workshop.ordered_labs() == labs


def test_an_attendee_switches_their_own_pages_to_english(client, workshop):
    join(client, workshop, "Ana")
    home_es = url("home", language="es", slug=workshop.slug)
    response = client.post("/language/", {"language": "en", "next": home_es})
    assert response["Location"] == url("home", language="en", slug=workshop.slug)
    html = client.get(response["Location"]).content.decode()
    assert '<html lang="en">' in html and "Write this down" in html
    workshop.refresh_from_db()
    assert workshop.language == "es"  # the room's language is the instructor's to change


def test_an_instructor_gives_an_attendee_a_new_resume_code(
    client, instructor, workshop, make_workshop
):
    browser = Client()
    join(browser, workshop, "Ana")
    old = browser.session["workshop_resume_code"]["code"]
    attendee = Attendee.objects.get()
    renew = url("attendee_resume_code", pk=workshop.pk, attendee_id=attendee.pk)

    # Not for another instructor, nor for an attendee of another workshop.
    client.force_login(make_instructor())
    assert client.post(renew).status_code == 404
    client.force_login(instructor)
    assert client.get(renew).status_code == 405
    elsewhere, _code = services.attendee_join(workshop=make_workshop(), display_name="Bea")
    foreign = url("attendee_resume_code", pk=workshop.pk, attendee_id=elsewhere.pk)
    assert client.post(foreign).status_code == 404
    response = client.post(renew, follow=True)
    shown = [str(message) for message in response.context["messages"]]
    assert len(shown) == 1 and "Ana" in shown[0]
    new = shown[0].split(": ")[1][:8]
    assert services.attendee_resume(workshop=workshop, resume_code=new) == attendee
    assert services.attendee_resume(workshop=workshop, resume_code=old) is None


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_header_links_instructors_and_only_them_to_their_workshops(client, language):
    link = f'href="{url("instructor_list", language)}"'
    client.force_login(UserFactory())
    assert link not in client.get(f"/{language}/").content.decode()
    client.force_login(make_instructor())
    assert link in client.get(f"/{language}/").content.decode()
