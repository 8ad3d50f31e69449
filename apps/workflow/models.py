"""What the three workflows share: the work-item base, the transition log, notes, outreach to
the patient, SLA policies and business calendars, saved worklist views."""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.models import ServiceLine, Site

from .calendar import DEFAULT_HOURS


class Priority(models.TextChoices):
    """Canonical request priority (FHIR request-priority), most urgent first."""

    STAT = "stat", "STAT"
    ASAP = "asap", "ASAP"
    URGENT = "urgent", "Urgent"
    ROUTINE = "routine", "Routine"


PRIORITY_RANK: dict[str, int] = {Priority.STAT: 0, Priority.ASAP: 1, Priority.URGENT: 2, Priority.ROUTINE: 3}


class TransitionSource(models.TextChoices):
    STAFF = "staff", "Staff"
    EHR = "ehr", "EHR"
    TIMER = "timer", "Timer"
    SYSTEM = "system", "System (e.g. a code mapping became active)"
    PATIENT = "patient", "The patient (a link in a reminder)"
    REMINDER = "reminder", "Patient reminders"


def worklist_indexes(prefix: str) -> list[models.Index]:
    """The open-item indexes the shared worklist (apps.workflow.worklist) reads: each sort order and
    the queue filter walk an index over the open items and stop after a page; the queue counts come
    from an index alone. Named ``<prefix>_open_…``."""
    open_items = models.Q(is_open=True)

    def index(name: str, *fields: str) -> models.Index:
        return models.Index(fields=list(fields), condition=open_items, name=f"{prefix}_open_{name}")

    return [
        index("priority", "priority_rank", "due_at", "id"),
        index("due", "due_at", "id"),
        index("age", "opened_at", "id"),
        index("queue", "queue", "priority_rank", "due_at", "id"),
        index("counts", "site", "queue", "due_at", "assignee", "sla_paused_at"),
        index("site_queue", "site", "queue", "priority_rank", "due_at", "id"),
    ]


class WorkItem(models.Model):
    """The base of every work item. State lives on the concrete model (an FSMField)."""

    WORKFLOW = ""
    WORK_PERMISSION = ""  # e.g. "core.work_referrals"

    if TYPE_CHECKING:  # what every concrete work item has, for code that takes any of them
        objects: ClassVar[models.Manager[Any]]
        state: str

        def get_state_display(self) -> str: ...

        def get_available_state_transitions(self) -> Iterator[Any]: ...

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    service_line = models.ForeignKey(ServiceLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    queue = models.CharField(max_length=40)
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.ROUTINE)
    priority_rank = models.PositiveSmallIntegerField(default=PRIORITY_RANK[Priority.ROUTINE])
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    patient_ref = models.CharField(max_length=200, blank=True, help_text="Patient/<id> in the local store")
    due_at = models.DateTimeField(help_text="When the SLA is breached")
    warn_at = models.DateTimeField(help_text="When the item shows as near due")
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    sla_remaining_minutes = models.FloatField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    is_open = models.BooleanField(default=True)
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def set_priority(self, priority: str) -> None:
        self.priority = priority
        self.priority_rank = PRIORITY_RANK.get(priority, PRIORITY_RANK[Priority.ROUTINE])


class Transition(models.Model):
    """Every state change (and claim, release, reassignment, escalation) of every workflow.

    The one source the KPI scorecards are computed from. Append-only: on PostgreSQL a
    trigger rejects UPDATE and DELETE (migration 0002).
    """

    workflow = models.CharField(max_length=16)
    item_id = models.BigIntegerField()
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    service_line = models.ForeignKey(ServiceLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    transition = models.CharField(max_length=40)
    from_state = models.CharField(max_length=32)
    to_state = models.CharField(max_length=32)
    queue = models.CharField(max_length=40, blank=True)
    priority = models.CharField(max_length=16, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_role = models.CharField(max_length=32, blank=True)
    source = models.CharField(max_length=8, choices=TransitionSource.choices)
    at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(blank=True)
    correlation_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["workflow", "item_id", "at"], name="wf_transition_item"),
            models.Index(fields=["workflow", "site", "at"], name="wf_transition_site_at"),
            models.Index(fields=["workflow", "transition", "at"], name="wf_transition_name_at"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow}:{self.item_id} {self.from_state}→{self.to_state} ({self.transition})"


class Note(models.Model):
    workflow = models.CharField(max_length=16)
    item_id = models.BigIntegerField()
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    text = models.TextField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["workflow", "item_id", "at"], name="wf_note_item")]

    def __str__(self) -> str:
        return f"note on {self.workflow}:{self.item_id} by {self.author_id}"


class OutreachChannel(models.TextChoices):
    PHONE = "phone", "Phone"
    SMS = "sms", "Text message"
    LETTER = "letter", "Letter"
    PORTAL = "portal", "Patient portal"
    EMAIL = "email", "Email"


class OutreachOutcome(models.TextChoices):
    REACHED = "reached", "Reached the patient"
    LEFT_MESSAGE = "left_message", "Left a message"
    NO_ANSWER = "no_answer", "No answer"
    WRONG_NUMBER = "wrong_number", "Wrong number"
    DECLINED = "declined", "Patient declined"


# The outcomes that count as "not reached" (a referral may be abandoned after enough of them).
OUTREACH_FAILED = frozenset({OutreachOutcome.LEFT_MESSAGE, OutreachOutcome.NO_ANSWER, OutreachOutcome.WRONG_NUMBER})


class Outreach(models.Model):
    """A contact attempt with the patient about one work item of any workflow (keyed like a note)."""

    Channel = OutreachChannel
    Outcome = OutreachOutcome
    FAILED = OUTREACH_FAILED

    workflow = models.CharField(max_length=16)
    item_id = models.BigIntegerField()
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=16, choices=OutreachChannel.choices)
    outcome = models.CharField(max_length=16, choices=OutreachOutcome.choices)
    note = models.CharField(max_length=500, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["workflow", "item_id", "at"], name="wf_outreach_item")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.get_outcome_display()}"


def default_hours() -> dict:
    return {day: [list(interval) for interval in intervals] for day, intervals in DEFAULT_HOURS.items()}


class SiteCalendar(models.Model):
    """A site's opening hours for SLA clocks (weekday → intervals, local time)."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="calendar")
    hours = models.JSONField(default=default_hours)

    def __str__(self) -> str:
        return f"hours of {self.site}"


class Holiday(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["site", "date"], name="wf_holiday_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.date}) at {self.site}"


class SlaPolicy(models.Model):
    """How long an item may wait, per workflow, queue and priority (blank matches any)."""

    workflow = models.CharField(max_length=16)
    queue = models.CharField(max_length=40, blank=True)
    priority = models.CharField(max_length=16, choices=Priority.choices, blank=True)
    target_minutes = models.PositiveIntegerField()
    business_hours = models.BooleanField(default=True, help_text="Count only the site's opening hours")
    warn_percent = models.PositiveSmallIntegerField(default=75, help_text="Near due after this share of the target")

    class Meta:
        verbose_name_plural = "SLA policies"
        constraints = [
            models.UniqueConstraint(fields=["workflow", "queue", "priority"], name="wf_slapolicy_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow}/{self.queue or '*'}/{self.priority or '*'}: {self.target_minutes} min"


class SavedView(models.Model):
    """A worklist filter and sort a user saved under a name."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    workflow = models.CharField(max_length=16)
    name = models.CharField(max_length=60)
    params = models.JSONField(default=dict)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["user", "workflow", "name"], name="wf_savedview_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.workflow})"
