"""Pre-visit intake: one item per booked appointment, its checklist, and the
per-site switch and checklist configuration supervisors keep."""

from django.conf import settings
from django.db import models
from django.db.models import Value
from django.db.models.functions import Coalesce
from django_fsm import ConcurrentTransitionMixin

from apps.core.models import Site
from apps.ehr.models import Appointment, EhrSource
from apps.workflow.models import WorkItem, worklist_indexes

from .workflow import IntakeTransitions

OPEN_ITEMS = models.Q(is_open=True)


class IntakeSite(models.Model):
    """The per-site switch: an Appointment booked at a site creates an intake only when it is on.

    ``location_refs`` names the EHR Locations (``Location/<id>``) that are this site, so an
    Appointment's location finds its site; a source's site with no locations is its default."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="intake")
    enabled = models.BooleanField(default=False, help_text="Create intakes for appointments booked here")
    source = models.ForeignKey(EhrSource, on_delete=models.CASCADE, related_name="+")
    location_refs = models.JSONField(default=list, blank=True, help_text='e.g. ["Location/north-main"]')

    class Meta:
        verbose_name = "intake site"

    def __str__(self) -> str:
        return f"intake at {self.site} ({'on' if self.enabled else 'off'})"


class ChecklistItem(models.Model):
    """A checklist line. Blank site: every site; blank appointment type: every type. For one key
    the most specific row wins (site and type, then site, then type, then the default), so a
    site can add items, reword them, or switch one off for a type (``active`` false)."""

    key = models.SlugField(max_length=40)
    label = models.CharField(max_length=120, help_text="What staff do, in plain words")
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    appointment_type = models.CharField(
        max_length=64, blank=True, help_text="Canonical appointment type (v2-0276 code); blank: every type"
    )
    position = models.PositiveSmallIntegerField(default=100)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["position", "key"]
        constraints = [
            # One line per key, site (or every site) and type. An expression, not nulls_distinct,
            # because SQLite (the embedded default) would skip a nulls_distinct constraint.
            models.UniqueConstraint(
                "key", Coalesce("site", Value(0)), "appointment_type", name="intake_checklist_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.site or 'all sites'}, {self.appointment_type or 'all types'})"


class Intake(ConcurrentTransitionMixin, IntakeTransitions, WorkItem):
    """Getting one booked appointment ready before the patient arrives."""

    WORKFLOW = "intake"
    WORK_PERMISSION = "core.work_intake"

    source = models.ForeignKey(EhrSource, on_delete=models.PROTECT, related_name="+")
    appointment = models.OneToOneField(Appointment, on_delete=models.PROTECT, related_name="intake")
    appointment_version = models.CharField(max_length=64, blank=True)
    visit_start = models.DateTimeField(help_text="The appointment's start (UTC)")
    visit_date = models.DateField(help_text="The visit day in the site's time zone")
    appointment_type = models.CharField(max_length=64, blank=True, help_text="Canonical (v2-0276); blank: unknown")
    appointment_type_display = models.CharField(max_length=200, blank=True)
    exception_reason = models.CharField(max_length=300, blank=True, help_text="Why the default checklist is used")
    outreach_attempts = models.PositiveSmallIntegerField(default=0)
    # For the scorecards: readiness before the visit day, and arrival → checked in.
    ready_at = models.DateTimeField(null=True, blank=True, help_text="When the checklist was last completed")
    complete_before_visit = models.BooleanField(
        null=True, blank=True, help_text="Checklist complete before the visit day (set at arrival or no-show)"
    )
    arrived_at = models.DateTimeField(null=True, blank=True, help_text="Appointment arrived (EHR event time)")
    checked_in_at = models.DateTimeField(
        null=True, blank=True, help_text="Appointment checked-in or Encounter started (EHR event time)"
    )
    reschedule_count = models.PositiveSmallIntegerField(default=0)
    entered_by_hand = models.BooleanField(default=False, help_text="A walk-in added by staff, not booked in the EHR")

    class Meta:
        indexes = [
            models.Index(fields=["site", "visit_date", "visit_start"], name="intake_day"),
            models.Index(fields=["visit_date", "visit_start", "id"], condition=OPEN_ITEMS, name="intake_open_day"),
            models.Index(fields=["site", "complete_before_visit", "visit_date"], name="intake_scorecard"),
            # A patient's intakes (patient search and the patient page, apps.workflow.patients).
            models.Index(fields=["patient_ref", "visit_date"], name="intake_patient"),
            *worklist_indexes("intake"),
        ]

    def __str__(self) -> str:
        return f"Intake {self.pk} ({self.get_state_display()})"

    @property
    def check_in_minutes(self) -> float | None:
        """Arrival → checked in, in minutes (None until both are known)."""
        if self.arrived_at and self.checked_in_at:
            return max((self.checked_in_at - self.arrived_at).total_seconds() / 60, 0.0)
        return None


class IntakeCheck(models.Model):
    """One checklist line of one intake: ticked by staff or by an EHR event."""

    class Source(models.TextChoices):
        STAFF = "staff", "Staff"
        EHR = "ehr", "EHR"
        PATIENT = "patient", "Patient (online form)"

    intake = models.ForeignKey(Intake, on_delete=models.CASCADE, related_name="checks")
    key = models.SlugField(max_length=40)
    label = models.CharField(max_length=120)
    position = models.PositiveSmallIntegerField(default=100)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    done_source = models.CharField(max_length=8, choices=Source.choices, blank=True)
    evidence = models.CharField(max_length=200, blank=True, help_text="e.g. QuestionnaireResponse/qr1")

    class Meta:
        ordering = ["position", "key"]
        constraints = [models.UniqueConstraint(fields=["intake", "key"], name="intake_check_unique")]
        # An EHR event ticks a line once: its evidence is looked up on every consent or questionnaire.
        indexes = [models.Index(fields=["evidence"], name="intake_check_evidence")]

    def __str__(self) -> str:
        return f"{self.label}: {'done' if self.done_at else 'open'}"
