"""Governance after go-live: who owns each workflow at each site, the friction staff report,
the per-site and per-service-line rollout switch (off → pilot → live), and the workarounds
the detection rules flag. Every change is in the change audit (django-auditlog records every
model with the acting user)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.models import ServiceLine, Site


class Workflow(models.TextChoices):
    REFERRAL = "referral", "Referrals"
    INTAKE = "intake", "Pre-visit intake"
    RESULT = "result", "Results follow-up"


class Duty(models.TextChoices):
    SYSTEM = "system", "System behaviour"
    CLINICAL = "clinical", "Clinical policy"
    SUPPORT = "support", "Support escalation"
    KPI = "kpi", "KPI review"


class WorkflowOwner(models.Model):
    """The named owner of one duty for one workflow at one site."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    workflow = models.CharField(max_length=16, choices=Workflow.choices)
    duty = models.CharField(max_length=16, choices=Duty.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "workflow", "duty"], name="gov_owner_per_duty")]

    def __str__(self) -> str:
        return f"{self.duty} owner of {self.workflow} at site {self.site_id}"


class Severity(models.TextChoices):
    LOW = "low", "Low: an annoyance"
    MEDIUM = "medium", "Medium: slows my work"
    HIGH = "high", "High: I have to work around it"


class FrictionStatus(models.TextChoices):
    NEW = "new", "New"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    FIXED = "fixed", "Fixed"
    WONT_FIX = "wont_fix", "Won't fix"


class FrictionReport(models.Model):
    """A short note from staff about something in the way, with the page it was on and the work
    item (its workflow and id, never the patient's data)."""

    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    workflow = models.CharField(max_length=16, choices=Workflow.choices)
    page = models.CharField(max_length=255, blank=True, help_text="The path of the page it was reported on")
    item_id = models.BigIntegerField(null=True, blank=True, help_text="The work item the page showed, if any")
    note = models.TextField(max_length=2000)
    severity = models.CharField(max_length=8, choices=Severity.choices, blank=True)
    status = models.CharField(max_length=16, choices=FrictionStatus.choices, default=FrictionStatus.NEW)
    reply = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["site", "status", "created_at"], name="gov_friction_queue"),
            models.Index(fields=["reporter", "created_at"], name="gov_friction_mine"),
        ]

    def __str__(self) -> str:
        return f"friction report {self.pk} ({self.status})"


class Phase(models.TextChoices):
    OFF = "off", "Off"
    PILOT = "pilot", "Pilot"
    LIVE = "live", "Live"


class RolloutSwitch(models.Model):
    """One workflow at one site and service line (NULL: the whole site): its rollout phase, the
    baseline period the pilot is compared with, and when the pilot started."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    service_line = models.ForeignKey(ServiceLine, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    workflow = models.CharField(max_length=16, choices=Workflow.choices)
    phase = models.CharField(max_length=8, choices=Phase.choices, default=Phase.OFF)
    baseline_start = models.DateField(null=True, blank=True)
    baseline_end = models.DateField(null=True, blank=True)
    pilot_started_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "service_line", "workflow"],
                condition=models.Q(service_line__isnull=False),
                name="gov_switch_per_line",
            ),
            models.UniqueConstraint(
                fields=["site", "workflow"], condition=models.Q(service_line__isnull=True), name="gov_switch_per_site"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow} at site {self.site_id} ({self.phase})"


class WorkaroundWord(models.Model):
    """A word or phrase that, in a note or an outreach note, suggests work done outside clinops."""

    word = models.CharField(max_length=60, unique=True)

    class Meta:
        ordering = ["word"]

    def __str__(self) -> str:
        return self.word


class Rule(models.TextChoices):
    BOOKED_UNTRIAGED = "booked_untriaged", "Booked in the EHR without triage here"
    CLOSED_UNTOUCHED = "closed_untouched", "Closed by the EHR or a timer with no staff action"
    PING_PONG = "ping_pong", "Handed back and forth"
    SIDE_CHANNEL = "side_channel", "A note mentions a side channel"
    DOUBLE_ENTRY = "double_entry", "Entered by hand, then sent by the EHR too"


class WorkaroundFlag(models.Model):
    """One work item flagged by one rule, with the reason in plain words (no patient data).
    ``at`` is when the workaround showed (it places the flag in a week)."""

    workflow = models.CharField(max_length=16, choices=Workflow.choices)
    item_id = models.BigIntegerField()
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    service_line = models.ForeignKey(ServiceLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rule = models.CharField(max_length=24, choices=Rule.choices)
    reason = models.CharField(max_length=300)
    at = models.DateTimeField()
    found_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "item_id", "rule"], name="gov_flag_once_per_rule"),
        ]
        indexes = [models.Index(fields=["site", "at"], name="gov_flag_site_at")]

    def __str__(self) -> str:
        return f"{self.rule} on {self.workflow}:{self.item_id}"
