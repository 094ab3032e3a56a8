"""Labs, their steps, learners' sessions (a state machine) and check results.

Lab and LabStep rows are written only by the content sync. LabSession rows change state only
through labs.services, which checks each transition against ``LabSession.TRANSITIONS``.
"""

from datetime import datetime
from typing import Any, ClassVar, Self

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from academy.courses.models import ContentQuerySet
from academy.courses.models import Level as Difficulty


class LabQuerySet(ContentQuerySet["Lab"]):
    def published(self) -> Self:
        """The labs learners see: not retired, and not a certification's practical task (those
        open only from an exam attempt)."""
        return super().published().filter(exam_only=False)


# Written out for django-stubs, as academy.courses.models.ContentManager says.
LabManager = models.Manager.from_queryset(LabQuerySet)


class Lab(models.Model):
    key = models.SlugField(_("key"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=120)
    title = models.CharField(_("title"), max_length=200)
    summary = models.TextField(_("summary"))
    difficulty = models.CharField(_("difficulty"), max_length=20, choices=Difficulty.choices)
    duration_minutes = models.PositiveIntegerField(_("duration in minutes"))
    order = models.PositiveIntegerField(_("order"), default=0)
    # The containers of a session: [{"name", "image", "memory_mb", "cpus", "pids", ...}].
    topology = models.JSONField(_("topology"), default=list)
    shell_container = models.CharField(_("shell container"), max_length=63)
    setup_script = models.TextField(_("setup script"), blank=True)
    # Ready sandboxes kept waiting for learners; None: settings.LAB_WARM_POOL_SIZE, 0: none.
    warm_pool_size = models.PositiveSmallIntegerField(_("warm pool size"), null=True, blank=True)
    # faults: true in lab.yaml: the platform adds its faults sidecar (labs.faults) to sessions.
    faults_enabled = models.BooleanField(_("faults enabled"), default=False)
    # A practical task of a certification: never listed, started only from an exam attempt,
    # with no solve and no per-step verdicts shown to the candidate.
    exam_only = models.BooleanField(_("exam only"), default=False)
    # "course-key/lesson-key" of the lessons this lab practises.
    lesson_refs = models.JSONField(_("lessons"), default=list, blank=True)
    content_hash = models.CharField(
        _("content hash"), max_length=80, blank=True
    )  # "<renderer>:<sha256>"
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    objects: ClassVar[LabManager["Lab"]] = LabManager()
    _default_manager: ClassVar[LabManager["Lab"]]  # see LabManager

    class Meta:
        ordering = ["order", "key"]
        verbose_name = _("lab")
        verbose_name_plural = _("labs")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("labs:lab", kwargs={"lab_slug": self.slug})


class LabStep(models.Model):
    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="steps")
    key = models.SlugField(_("key"), max_length=100)
    number = models.PositiveIntegerField(_("number"))
    title = models.CharField(_("title"), max_length=200)
    body_html = models.TextField(_("instructions (HTML)"))
    check_script = models.TextField(_("check script"))
    solve_script = models.TextField(_("solve script"))
    # Container the check runs in (default: the lab's shell container).
    check_container = models.CharField(_("check container"), max_length=63, blank=True)
    # FAIL: message keys -> {"en": ..., "es": ...}, so checks speak the learner's language.
    messages = models.JSONField(_("messages"), default=dict, blank=True)

    objects: ClassVar[models.Manager["LabStep"]] = models.Manager()
    _default_manager: ClassVar[models.Manager["LabStep"]]  # see LabManager

    class Meta:
        ordering = ["lab", "number"]
        constraints = [
            models.UniqueConstraint(fields=["lab", "key"], name="step_key_unique_in_lab"),
        ]
        verbose_name = _("lab step")
        verbose_name_plural = _("lab steps")

    def __str__(self) -> str:
        return f"{self.number}. {self.title}"


class LabHost(models.Model):
    """A lab host: a Docker engine with its own Celery workers (queues "<name>.<kind>"),
    terminal gateway and fault relay. A host announces itself when its worker starts and on
    every reap tick (labs.services.hosts); sessions are placed on live, active hosts only."""

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        # No new sessions or warm sandboxes; the sessions it holds run out.
        DRAINING = "draining", _("Draining")

    name = models.SlugField(_("name"), max_length=64, unique=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.ACTIVE)
    # Running sessions it holds at most, as the host sized itself (LAB_MAX_RUNNING_SESSIONS).
    capacity = models.PositiveIntegerField(_("capacity"))
    # The public origin of its terminal gateway (wss://…); empty: the site's own origin.
    terminal_url = models.CharField(_("terminal gateway"), max_length=200, blank=True)
    # What the host reported of its machine and engine: {"cpus", "memory_mib", "engine"}.
    details = models.JSONField(_("details"), default=dict, blank=True)
    seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("lab host")
        verbose_name_plural = _("lab hosts")

    def __str__(self) -> str:
        return self.name


class LabSessionQuerySet(models.QuerySet["LabSession"]):
    def live(self) -> Self:
        """Sessions that hold, or are about to hold, containers."""
        return self.filter(state__in=LabSession.LIVE_STATES)

    def running(self) -> Self:
        """Sessions that count against the capacity limit."""
        return self.filter(state__in=LabSession.RUNNING_STATES)

    def queued(self) -> Self:
        # An exam's task starts before any practice lab: its candidate's clock is running.
        return self.filter(state=LabSession.State.REQUESTED).order_by(
            "-lab__exam_only", "requested_at", "pk"
        )

    def pooled(self) -> Self:
        return self.filter(user__isnull=True)

    def overdue(self, now: datetime | None = None) -> Self:
        return self.live().filter(expires_at__lte=now or timezone.now())


class LabSession(models.Model):
    class State(models.TextChoices):
        REQUESTED = "requested", _("Queued")
        PROVISIONING = "provisioning", _("Starting")
        READY = "ready", _("Ready")
        CHECKING = "checking", _("Checking")
        COMPLETED = "completed", _("Completed")
        EXPIRED = "expired", _("Expired")
        FAILED = "failed", _("Failed")
        DESTROYED = "destroyed", _("Stopped")

    S = State
    TRANSITIONS = {
        S.REQUESTED: {S.PROVISIONING, S.FAILED, S.DESTROYED, S.EXPIRED},
        S.PROVISIONING: {S.READY, S.FAILED, S.EXPIRED, S.DESTROYED},
        S.READY: {S.CHECKING, S.COMPLETED, S.EXPIRED, S.FAILED, S.DESTROYED},
        S.CHECKING: {S.READY, S.COMPLETED, S.EXPIRED, S.FAILED, S.DESTROYED},
        S.COMPLETED: {S.CHECKING, S.EXPIRED, S.DESTROYED},
        S.EXPIRED: {S.DESTROYED},
        S.FAILED: {S.DESTROYED},
        S.DESTROYED: set(),
    }
    LIVE_STATES = (S.REQUESTED, S.PROVISIONING, S.READY, S.CHECKING, S.COMPLETED)
    RUNNING_STATES = (S.PROVISIONING, S.READY, S.CHECKING, S.COMPLETED)
    del S

    lab = models.ForeignKey(Lab, on_delete=models.PROTECT, related_name="sessions")
    # Null while the session waits, provisioned, in the lab's warm pool.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="lab_sessions",
    )
    state = models.CharField(
        _("state"), max_length=20, choices=State.choices, default=State.REQUESTED
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    state_changed_at = models.DateTimeField(_("state changed at"), default=timezone.now)
    ready_at = models.DateTimeField(_("ready at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    extended = models.BooleanField(_("extended"), default=False)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    # The sandbox as labs.runtime.Sandbox.as_dict(): its network and container ids by name.
    sandbox = models.JSONField(_("sandbox"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    # The learner's Chaos Toolkit journals live in SessionJournal rows (session.journal_files);
    # what a collection could not keep, and the chaos coverage worked out when it ran, here.
    journals_pruned = models.PositiveIntegerField(_("journals not kept"), default=0)
    coverage = models.JSONField(_("chaos coverage"), default=list, blank=True)
    journals_collected_at = models.DateTimeField(_("journals collected at"), null=True, blank=True)
    # Where the learner started it from (an IPv6 client's /64): live sessions are limited per
    # client address too. Empty for warm-pool sessions and for sessions started from the CLI.
    client_address = models.CharField(_("client address"), max_length=64, blank=True)
    # What the platform saw go wrong with the sandbox while the session was running, as
    # labs.services.health records it: {"container", "reason" (oom, exited, missing),
    # "exit_code", "seen_at", "restoring"}. Empty while all is well; a session with a problem
    # does not count as running (labs.services.access) until it is restored.
    problem = models.JSONField(_("problem"), default=dict, blank=True)
    # The lab host (LabHost.name, its Celery queues' prefix) whose engine holds the sandbox:
    # set when the session is placed; empty while it waits, and on rows from before hosts,
    # which belong to the LAB_TASK_QUEUE host (labs.services.hosts.session_host).
    host = models.CharField(_("lab host"), max_length=64, blank=True, db_index=True)

    objects = LabSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            # One live session per learner per lab: starting again returns it.
            models.UniqueConstraint(
                fields=["user", "lab"],
                condition=models.Q(
                    state__in=["requested", "provisioning", "ready", "checking", "completed"],
                    user__isnull=False,
                ),
                name="one_live_session_per_user_and_lab",
            ),
        ]
        indexes = [models.Index(fields=["state", "expires_at"], name="labsession_state_expiry")]
        verbose_name = _("lab session")
        verbose_name_plural = _("lab sessions")

    def __str__(self) -> str:
        return f"#{self.pk} {self.lab.key} ({self.state})"

    def get_absolute_url(self) -> str:
        return reverse("labs:session", kwargs={"session_id": self.pk})

    @property
    def is_live(self) -> bool:
        return self.state in self.LIVE_STATES

    @property
    def journals(self) -> dict[str, dict[str, Any]]:
        """The kept journals, newest run first: {path: {"modified", "size", "journal"}}."""
        return {
            row.path: {
                "modified": row.modified.isoformat() if row.modified else None,
                "size": row.size,
                "journal": row.journal,
            }
            for row in self.journal_files.order_by("position", "pk")
        }


class SessionJournal(models.Model):
    """A Chaos Toolkit journal read by the platform from the learner's home (see
    labs.services.results): the compacted journal, and the few facts the journal list shows, so
    that a page draws the list without reading every journal."""

    session = models.ForeignKey(LabSession, on_delete=models.CASCADE, related_name="journal_files")
    path = models.CharField(_("path"), max_length=300)  # relative to the learner's home
    modified = models.DateTimeField(_("modified"), null=True, blank=True)
    size = models.PositiveIntegerField(_("size in bytes"), null=True, blank=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=20, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    stored_bytes = models.PositiveIntegerField(_("stored bytes"), default=0)
    journal = models.JSONField(_("journal"), default=dict)  # labs.journal.journal_compact
    position = models.PositiveSmallIntegerField(_("position"), default=0)  # 0: the newest run

    class Meta:
        ordering = ["session", "position"]
        constraints = [
            models.UniqueConstraint(fields=["session", "path"], name="journal_path_unique"),
        ]
        verbose_name = _("journal")
        verbose_name_plural = _("journals")

    def __str__(self) -> str:
        return f"{self.session_id}:{self.path}"


class CheckResult(models.Model):
    session = models.ForeignKey(LabSession, on_delete=models.CASCADE, related_name="checks")
    step = models.ForeignKey(LabStep, on_delete=models.CASCADE, related_name="results")
    passed = models.BooleanField(_("passed"))
    # FAIL: lines as shown to the learner, in the learner's language.
    messages = models.JSONField(_("messages"), default=list, blank=True)
    output = models.TextField(_("output"), blank=True)
    exit_code = models.IntegerField(_("exit code"), null=True)
    timed_out = models.BooleanField(_("timed out"), default=False)
    duration_ms = models.PositiveIntegerField(_("duration in milliseconds"))
    created_at = models.DateTimeField(_("checked at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("check result")
        verbose_name_plural = _("check results")

    def __str__(self) -> str:
        return f"{self.session_id}/{self.step.number}: {'pass' if self.passed else 'fail'}"
