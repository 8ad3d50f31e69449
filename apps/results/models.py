from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin

from apps.core.models import Site
from apps.ehr.models import EhrSource
from apps.workflow.models import WorkItem, worklist_indexes

from .workflow import Criticality, FollowUp, NotifyMethod, ResultTransitions

OPEN_ITEMS = models.Q(is_open=True)


class ResultItem(ConcurrentTransitionMixin, ResultTransitions, WorkItem):
    """A final result to review and act on: a DiagnosticReport, or an Observation outside a report."""

    WORKFLOW = "result"
    WORK_PERMISSION = "core.work_results"
    VIEW_PERMISSIONS = ("core.work_results", "core.review_results")  # who opens an item's page

    source = models.ForeignKey(EhrSource, on_delete=models.PROTECT, related_name="+")
    resource_type = models.CharField(max_length=32)
    resource_id = models.CharField(max_length=128)
    version_id = models.CharField(max_length=64, blank=True)
    fhir_status = models.CharField(max_length=32, blank=True)
    code = models.CharField(max_length=300, blank=True, help_text="The test as the EHR sent it (system|code)")
    code_display = models.CharField(max_length=300, blank=True)
    criticality = models.CharField(max_length=16, choices=Criticality.choices, default=Criticality.ABNORMAL)
    criticality_note = models.CharField(max_length=300, blank=True, help_text="How the criticality was found")
    interpretation_codes = models.CharField(max_length=500, blank=True)
    values = models.JSONField(default=list, blank=True, help_text="The values at the last version, for diffs")
    conclusion = models.TextField(blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    ordering_ref = models.CharField(max_length=200, blank=True, help_text="Practitioner/… found in the result")
    ordering_clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    unassigned_reason = models.CharField(max_length=300, blank=True, help_text="Why no clinician was found")
    exception_reason = models.CharField(max_length=300, blank=True)
    changes = models.TextField(blank=True, help_text="What the latest amended or corrected version changed")
    amended_at = models.DateTimeField(null=True, blank=True)
    follow_up = models.CharField(max_length=16, choices=FollowUp.choices, blank=True)
    follow_up_note = models.TextField(blank=True)
    notification_method = models.CharField(max_length=16, choices=NotifyMethod.choices, blank=True)
    # What the KPIs read (each also in the transition log with its actor).
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    notified_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "resource_type", "resource_id"], name="res_item_identity"),
        ]
        indexes = [
            models.Index(fields=["assignee", "state", "priority_rank", "opened_at"], name="res_inbox"),
            models.Index(
                fields=["site", "state", "priority_rank", "due_at", "id"], condition=OPEN_ITEMS, name="res_open_state"
            ),
            models.Index(fields=["patient_ref", "code", "issued_at"], name="res_previous"),
            *worklist_indexes("res"),
        ]

    def __str__(self) -> str:
        return f"Result {self.pk} ({self.get_state_display()})"

    @property
    def reference(self) -> str:
        return f"{self.resource_type}/{self.resource_id}"


class ClinicianLink(models.Model):
    """Which clinops clinician a source's Practitioner is, and the site their results belong to."""

    source = models.ForeignKey(EhrSource, on_delete=models.CASCADE, related_name="+")
    practitioner_ref = models.CharField(max_length=200, help_text="Practitioner/<id> as the EHR names them")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "practitioner_ref"], name="res_clinician_unique")]

    def __str__(self) -> str:
        return f"{self.practitioner_ref} → {self.user}"


class ResultSite(models.Model):
    """Where a source's results go when no clinician can be found (the site's unassigned pool)."""

    source = models.OneToOneField(EhrSource, on_delete=models.CASCADE, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"{self.source} → {self.site}"


class Coverage(models.Model):
    """A clinician names who covers their results inbox for a period."""

    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    covered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["clinician", "starts_at", "ends_at"], name="res_coverage_when")]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="res_coverage_order")
        ]

    def __str__(self) -> str:
        return f"{self.covered_by} covers {self.clinician}"


class ReportMember(models.Model):
    """An Observation a DiagnosticReport lists in ``result``: kept by the results handlers when a
    report arrives, so that an observation finds its report with one indexed lookup instead of
    reading every report of the patient."""

    source = models.ForeignKey(EhrSource, on_delete=models.PROTECT, related_name="+")
    observation_id = models.CharField(max_length=128)
    report_id = models.CharField(max_length=128)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "observation_id", "report_id"], name="results_report_member")
        ]
        indexes = [models.Index(fields=["source", "report_id"], name="results_member_report")]

    def __str__(self) -> str:
        return f"Observation/{self.observation_id} in DiagnosticReport/{self.report_id}"
