"""Forms of the workshop pages. Field errors in the reader's language; a form that does not
validate changes nothing (the services are called only with clean data)."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from academy.accounts.forms import SignUpForm, SiteVoiceMixin
from academy.courses.models import Course
from academy.workshops import selectors
from academy.workshops.models import DISPLAY_NAME_MAX_LENGTH, MAX_CAPACITY, Workshop
from labs.models import Lab

if TYPE_CHECKING:
    from academy.accounts.models import User

MAX_CO_INSTRUCTORS = 10
DATETIME_INPUT = "%Y-%m-%dT%H:%M"
MAX_HOURS = 24


def _time_zones() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format=DATETIME_INPUT, **kwargs)


class WorkshopForm(SiteVoiceMixin, forms.Form):
    title = forms.CharField(
        label=_("Title"),
        max_length=200,
        help_text=_("In the workshop's language, as attendees will read it."),
    )
    language = forms.ChoiceField(
        label=_("Language of the workshop"),
        choices=settings.LANGUAGES,
        help_text=_("The projector page and the attendees' pages start in this language."),
    )
    starts_at = forms.DateTimeField(
        label=_("Starts at"), widget=LocalDateTimeInput(), input_formats=[DATETIME_INPUT]
    )
    ends_at = forms.DateTimeField(
        label=_("Ends at"), widget=LocalDateTimeInput(), input_formats=[DATETIME_INPUT]
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=_time_zones,
        initial="UTC",
        help_text=_("The venue's time zone: the times above are read in it."),
    )
    course = forms.ModelChoiceField(
        label=_("Course"), queryset=Course.objects.published(), empty_label=None
    )
    labs = forms.ModelMultipleChoiceField(
        label=_("Labs"),
        queryset=Lab.objects.published().filter(exam_only=False),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Labs of the chosen course, done in the order shown."),
    )
    capacity = forms.IntegerField(
        label=_("Capacity"),
        min_value=1,
        max_value=MAX_CAPACITY,
        initial=30,
    )
    co_instructors = forms.CharField(
        label=_("Co-instructors"),
        required=False,
        max_length=1000,
        help_text=_("Usernames of other instructors, separated by commas or spaces."),
    )

    def __init__(
        self, *args: Any, user: User, workshop: Workshop | None = None, **kwargs: Any
    ) -> None:
        self.user = user
        self.workshop = workshop
        super().__init__(*args, **kwargs)
        # Here, not on the field: "%" turns a lazy text into the language active at import.
        self.fields["capacity"].help_text = _("How many attendees can join, from 1 to %(max)d.") % {
            "max": MAX_CAPACITY
        }
        self.fields["capacity"].error_messages.update(
            {
                "min_value": _("Capacity must be between 1 and %(max)d.") % {"max": MAX_CAPACITY},
                "max_value": _("Capacity must be between 1 and %(max)d.") % {"max": MAX_CAPACITY},
                "invalid": _("Enter a whole number."),
            }
        )
        for name in ("starts_at", "ends_at"):
            self.fields[name].error_messages["invalid"] = _(
                "Enter a date and time, like 2026-05-30 18:30."
            )
        self.fields["labs"].error_messages["invalid_choice"] = _("Choose labs from the list only.")
        self.fields["course"].error_messages["invalid_choice"] = _(
            "Choose one of the courses in the list."
        )
        self.labs_by_course = selectors.labs_by_course()
        labs_field = self.fields["labs"]
        assert isinstance(labs_field, forms.ModelMultipleChoiceField)
        # A label per instance, replacing the method (django-stubs types it as one).
        labs_field.label_from_instance = lambda lab: lab.title  # type: ignore[assignment]
        if workshop is not None and not self.is_bound:
            zone = zoneinfo.ZoneInfo(workshop.time_zone)
            self.initial.update(
                {
                    "title": workshop.title,
                    "language": workshop.language,
                    "starts_at": timezone.localtime(workshop.starts_at, zone).replace(tzinfo=None),
                    "ends_at": timezone.localtime(workshop.ends_at, zone).replace(tzinfo=None),
                    "time_zone": workshop.time_zone,
                    "course": workshop.course_id,
                    "labs": [lab.pk for lab in workshop.ordered_labs()],
                    "capacity": workshop.capacity,
                    "co_instructors": " ".join(
                        workshop.instructors.exclude(pk=user.pk)
                        .order_by("username")
                        .values_list("username", flat=True)
                    ),
                }
            )

    def lab_courses(self) -> dict[int, list[int]]:
        """Lab id -> ids of the courses it belongs to (workshops.js hides the others)."""
        courses: dict[int, list[int]] = {}
        for course_id, labs in self.labs_by_course.items():
            for lab in labs:
                courses.setdefault(lab.pk, []).append(course_id)
        return courses

    def clean_co_instructors(self) -> list[User]:
        names = [n for n in re.split(r"[\s,;]+", self.cleaned_data["co_instructors"]) if n]
        names = list(dict.fromkeys(names))
        if len(names) > MAX_CO_INSTRUCTORS:
            raise forms.ValidationError(
                _("Name at most %(max)d co-instructors.") % {"max": MAX_CO_INSTRUCTORS}
            )
        users: list[User] = []
        errors: list[str] = []
        for name in names:
            found = get_user_model().objects.filter(username__iexact=name).first()
            if found is None:
                errors.append(_("Nobody has the username “%(name)s”.") % {"name": name})
            elif not selectors.user_is_instructor(found):
                errors.append(
                    _(
                        "“%(name)s” is not an instructor. An administrator can add them to the "
                        "instructors group."
                    )
                    % {"name": name}
                )
            elif found.pk != self.user.pk:
                users.append(found)
        if errors:
            raise forms.ValidationError(errors)
        return users

    def _aware(self, name: str, zone: tzinfo) -> datetime | None:
        value = self.cleaned_data.get(name)
        if value is None:
            return None
        # The field read the wall-clock time in UTC; it means the venue's clock.
        naive = timezone.make_naive(value, timezone.get_fixed_timezone(0))
        return timezone.make_aware(naive, zone)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        zone_name = cleaned.get("time_zone")
        if zone_name:
            zone = zoneinfo.ZoneInfo(zone_name)
            cleaned["starts_at"] = starts = self._aware("starts_at", zone)
            cleaned["ends_at"] = ends = self._aware("ends_at", zone)
            if starts and ends:
                if ends <= starts:
                    self.add_error("ends_at", _("The workshop must end after it starts."))
                elif (ends - starts).total_seconds() > MAX_HOURS * 3600:
                    self.add_error(
                        "ends_at",
                        _("A workshop lasts at most %(hours)d hours.") % {"hours": MAX_HOURS},
                    )
                elif ends <= timezone.now() and self.workshop is None:
                    self.add_error("ends_at", _("This time has already passed."))
        course = cleaned.get("course")
        labs = cleaned.get("labs")
        if course is not None and labs is not None:
            allowed = [lab for lab in self.labs_by_course.get(course.pk, [])]
            chosen = {lab.pk for lab in labs}
            stray = chosen - {lab.pk for lab in allowed}
            if stray:
                self.add_error(
                    "labs",
                    _("Choose only labs of the course “%(course)s”.") % {"course": course.title},
                )
            else:
                # The course's order, whatever order the browser sent them in.
                cleaned["labs"] = [lab for lab in allowed if lab.pk in chosen]
        capacity = cleaned.get("capacity")
        if self.workshop is not None and capacity is not None:
            joined = self.workshop.attendees.count()
            if capacity < joined:
                self.add_error(
                    "capacity",
                    _("%(count)d attendees have already joined: the capacity cannot be lower.")
                    % {"count": joined},
                )
        return cleaned


class JoinCodeForm(SiteVoiceMixin, forms.Form):
    code = forms.CharField(
        label=_("Workshop code"),
        max_length=20,
        help_text=_("The six characters on the projector."),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )


class DisplayNameForm(SiteVoiceMixin, forms.Form):
    display_name = forms.CharField(
        label=_("Your display name"),
        # The service trims, bounds and checks it, with its own messages; the browser's
        # maxlength is a courtesy.
        strip=False,
        help_text=_(
            "Shown to the instructor and the room. No e-mail or password needed: a first "
            "name or a nickname is enough."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "nickname", "maxlength": DISPLAY_NAME_MAX_LENGTH}
        ),
    )


class ResumeForm(SiteVoiceMixin, forms.Form):
    code = forms.CharField(
        label=_("Workshop code"),
        max_length=20,
        help_text=_("The six characters on the projector."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    resume_code = forms.CharField(
        label=_("Your resume code"),
        max_length=20,
        help_text=_("The eight characters you wrote down when you joined."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class ClaimForm(SignUpForm):
    """The sign-up form's fields and rules, applied to the guest's own account."""

    class Meta(SignUpForm.Meta):
        fields = ("username", "email")
