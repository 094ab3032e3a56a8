"""Meetup workshops: an instructor-led room of attendees working through labs at once.

A Workshop names a course and an ordered list of that course's labs, its instructors, its
capacity and its language. Attendees join with a short code and a display name: each is a real
Django user (a guest with an unusable password until they claim the account), so every lab
ownership check already keeps one attendee out of another's sessions and terminals.

State: ``scheduled`` (created; joining opens WORKSHOP_JOIN_OPENS_MINUTES before it starts),
``live`` (the instructor started the room) and ``ended`` (joining closed, the code is free for
another workshop). Rows change only through academy.workshops.services.
"""

from typing import TYPE_CHECKING, Self

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from academy.courses.models import Course
from labs.models import Lab

if TYPE_CHECKING:
    from academy.accounts.models import User

# Join codes and resume codes: no 0/O, 1/I/L or U/V look-alikes, readable off a projector.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTWXYZ23456789"
JOIN_CODE_LENGTH = 6
RESUME_CODE_LENGTH = 8
DISPLAY_NAME_MAX_LENGTH = 40
MAX_CAPACITY = 200


class WorkshopQuerySet(models.QuerySet["Workshop"]):
    def open(self) -> Self:
        """Workshops whose join code is in use (not ended)."""
        return self.exclude(state=Workshop.State.ENDED)

    def taught_by(self, user: "User") -> Self:
        """Workshops ``user`` teaches (as creator or co-instructor)."""
        return self.filter(instructors=user).distinct()


class Workshop(models.Model):
    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        LIVE = "live", _("Live")
        ENDED = "ended", _("Ended")

    # Unique among workshops that have not ended (constraint below); ended ones free it.
    code = models.CharField(_("join code"), max_length=JOIN_CODE_LENGTH)
    # The public page's address: the title's slug and a random suffix, never the join code.
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    title = models.CharField(_("title"), max_length=200)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    # The venue's IANA time zone: pages show the times as the room's clocks read them.
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    course = models.ForeignKey(
        Course, on_delete=models.PROTECT, related_name="workshops", verbose_name=_("course")
    )
    labs = models.ManyToManyField(
        Lab, through="WorkshopLab", related_name="workshops", verbose_name=_("labs")
    )
    capacity = models.PositiveSmallIntegerField(
        _("capacity"), validators=[MinValueValidator(1), MaxValueValidator(MAX_CAPACITY)]
    )
    instructors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="workshops_taught", verbose_name=_("instructors")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.SCHEDULED
    )
    # A lab host kept for this room (labs.LabHost.name): its attendees' sessions and warm
    # sandboxes go there. Empty: wherever there is room.
    lab_host = models.CharField(_("reserved lab host"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    went_live_at = models.DateTimeField(_("went live at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)

    objects = WorkshopQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["code"],
                condition=~models.Q(state="ended"),
                name="workshop_code_unique_while_open",
            ),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="workshop_ends_after_it_starts",
            ),
            models.CheckConstraint(
                condition=models.Q(capacity__gte=1, capacity__lte=MAX_CAPACITY),
                name="workshop_capacity_in_range",
            ),
        ]
        verbose_name = _("workshop")
        verbose_name_plural = _("workshops")

    def __str__(self) -> str:
        return f"{self.title} ({self.code})"

    def get_absolute_url(self) -> str:
        return reverse("workshops:public", kwargs={"slug": self.slug})

    def ordered_labs(self) -> list[Lab]:
        return [item.lab for item in self.workshop_labs.select_related("lab").order_by("position")]


class WorkshopLab(models.Model):
    workshop = models.ForeignKey(Workshop, on_delete=models.CASCADE, related_name="workshop_labs")
    lab = models.ForeignKey(Lab, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(_("position"))

    class Meta:
        ordering = ["workshop", "position"]
        constraints = [
            models.UniqueConstraint(fields=["workshop", "lab"], name="workshop_lab_once"),
            models.UniqueConstraint(
                fields=["workshop", "position"], name="workshop_lab_position_unique"
            ),
        ]
        verbose_name = _("workshop lab")
        verbose_name_plural = _("workshop labs")

    def __str__(self) -> str:
        return f"{self.position}. {self.lab}"


class Attendee(models.Model):
    workshop = models.ForeignKey(Workshop, on_delete=models.CASCADE, related_name="attendees")
    # A guest account made on join (unusable password) or, once claimed, a normal one.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workshop_attendances"
    )
    display_name = models.CharField(_("display name"), max_length=DISPLAY_NAME_MAX_LENGTH)
    # display_name.casefold(): "Ana" and "ANA" are the same name in one room.
    display_name_key = models.CharField(max_length=DISPLAY_NAME_MAX_LENGTH * 3)
    # HMAC of the personal resume code (services.resume_code_digest); the code is shown once.
    resume_code_hash = models.CharField(_("resume code hash"), max_length=64)
    joined_at = models.DateTimeField(_("joined at"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen at"), null=True, blank=True)
    # False while the account is a workshop guest (no e-mail, no password).
    claimed = models.BooleanField(_("claimed"), default=False)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)

    class Meta:
        ordering = ["workshop", "joined_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["workshop", "user"], name="attendee_once_per_workshop"),
            models.UniqueConstraint(
                fields=["workshop", "display_name_key"], name="attendee_name_unique_in_workshop"
            ),
            models.UniqueConstraint(
                fields=["workshop", "resume_code_hash"], name="attendee_resume_code_unique"
            ),
        ]
        verbose_name = _("attendee")
        verbose_name_plural = _("attendees")

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_guest(self) -> bool:
        return not self.claimed


# --- The live board and the game day (issue 13, items 4 and 5) ----------------------------------

ANNOUNCEMENT_MAX_LENGTH = 280
GAMEDAY_MIN_SECONDS = 10
GAMEDAY_MAX_SECONDS = 300


class RoomTimer(models.Model):
    """The room's agenda timer: a countdown to the workshop's ``ends_at`` that the instructor
    can pause. While paused the countdown stands still; resuming adds the paused time to
    ``shift_seconds``, so the countdown ends that much later. Lab sessions keep their own
    expiry (extended with "extend time for everyone"), and joining still closes at ``ends_at``."""

    workshop = models.OneToOneField(Workshop, on_delete=models.CASCADE, related_name="timer")
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True)
    shift_seconds = models.PositiveIntegerField(_("seconds added by pauses"), default=0)

    class Meta:
        verbose_name = _("room timer")
        verbose_name_plural = _("room timers")

    def __str__(self) -> str:
        return f"{self.workshop} timer"


class WorkshopEvent(models.Model):
    """What happened in the room, by whom and when: the audit log of instructor actions, the
    announcements (kind ``announce``, text shown to every attendee) and the help requests."""

    class Kind(models.TextChoices):
        ANNOUNCE = "announce", _("Announcement")
        EXTEND = "extend", _("Time extended")
        PAUSE = "pause", _("Timer paused")
        RESUME = "resume", _("Timer resumed")
        HELP_RAISED = "help_raised", _("Help requested")
        HELP_CLEARED = "help_cleared", _("Help request cleared")
        GAMEDAY = "gameday", _("Game day started")

    workshop = models.ForeignKey(Workshop, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("by"),
    )
    text = models.CharField(_("text"), max_length=ANNOUNCEMENT_MAX_LENGTH, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("workshop event")
        verbose_name_plural = _("workshop events")

    def __str__(self) -> str:
        return f"{self.workshop_id} {self.kind} {self.created_at:%H:%M:%S}"


class HelpRequest(models.Model):
    """An attendee's raised hand: open until the attendee lowers it or an instructor clears it."""

    attendee = models.ForeignKey(Attendee, on_delete=models.CASCADE, related_name="help_requests")
    raised_at = models.DateTimeField(_("raised at"), auto_now_add=True)
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["raised_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["attendee"],
                condition=models.Q(cleared_at__isnull=True),
                name="help_request_one_open_per_attendee",
            )
        ]
        verbose_name = _("help request")
        verbose_name_plural = _("help requests")

    def __str__(self) -> str:
        return f"{self.attendee} {self.raised_at:%H:%M:%S}"


class GameDay(models.Model):
    """One fault injected into every attendee's running session of one lab at once."""

    class Fault(models.TextChoices):
        KILL = "kill", _("Kill a replica")
        LATENCY = "latency", _("Add latency")
        STRESS_CPU = "stress_cpu", _("Stress CPU")
        STRESS_MEMORY = "stress_memory", _("Stress memory")
        BREAK_RECONCILER = "break_reconciler", _("Break the reconciler")

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        FINISHED = "finished", _("Finished")

    workshop = models.ForeignKey(Workshop, on_delete=models.CASCADE, related_name="game_days")
    lab = models.ForeignKey(Lab, on_delete=models.PROTECT, related_name="+")
    fault = models.CharField(_("fault"), max_length=20, choices=Fault.choices)
    target = models.CharField(_("target"), max_length=63)
    duration_seconds = models.PositiveSmallIntegerField(
        _("duration in seconds"),
        validators=[MinValueValidator(GAMEDAY_MIN_SECONDS), MaxValueValidator(GAMEDAY_MAX_SECONDS)],
    )
    # What the platform asks the system while the fault runs: {"container", "port", "path"}.
    probe = models.JSONField(_("steady-state probe"), default=dict)
    state = models.CharField(
        _("state"), max_length=12, choices=State.choices, default=State.RUNNING
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["workshop"],
                condition=models.Q(state="running"),
                name="gameday_one_running_per_workshop",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    duration_seconds__gte=GAMEDAY_MIN_SECONDS,
                    duration_seconds__lte=GAMEDAY_MAX_SECONDS,
                ),
                name="gameday_duration_in_range",
            ),
        ]
        verbose_name = _("game day")
        verbose_name_plural = _("game days")

    def __str__(self) -> str:
        return f"{self.workshop_id} {self.fault} {self.target}"


class GameDayOutcome(models.Model):
    """How one attendee's system took the fault: measured by the platform, not the learner."""

    class Result(models.TextChoices):
        PENDING = "pending", _("Pending")
        HELD = "held", _("Held")
        DEVIATED = "deviated", _("Deviated")
        FAILED = "failed", _("Could not inject")

    game_day = models.ForeignKey(GameDay, on_delete=models.CASCADE, related_name="outcomes")
    attendee = models.ForeignKey(Attendee, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(
        "labs.LabSession", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    result = models.CharField(
        _("result"), max_length=12, choices=Result.choices, default=Result.PENDING
    )
    injected_at = models.DateTimeField(_("injected at"), null=True, blank=True)
    fault_ended_at = models.DateTimeField(_("fault ended at"), null=True, blank=True)
    # [{"at": iso, "phase": "before|during|after", "ok": bool, "status": int|None, "ms": int}]
    measurements = models.JSONField(_("measurements"), default=list, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)

    class Meta:
        ordering = ["game_day", "attendee__display_name_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["game_day", "attendee"], name="gameday_outcome_once_per_attendee"
            )
        ]
        verbose_name = _("game-day outcome")
        verbose_name_plural = _("game-day outcomes")

    def __str__(self) -> str:
        return f"{self.game_day_id} {self.attendee} {self.result}"
