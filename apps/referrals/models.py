from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin

from apps.core.models import ServiceLine, Site
from apps.ehr.models import EhrSource, ServiceRequest
from apps.workflow.models import WorkItem

from .workflow import ReferralTransitions

OPEN_ITEMS = models.Q(is_open=True)


class Referral(ConcurrentTransitionMixin, ReferralTransitions, WorkItem):
    """A referral from another clinician, from the EHR's ServiceRequest (and the referrer's Task)."""

    WORKFLOW = "referral"
    WORK_PERMISSION = "core.work_referrals"

    source = models.ForeignKey(EhrSource, on_delete=models.PROTECT, related_name="+")
    service_request = models.OneToOneField(ServiceRequest, on_delete=models.PROTECT, related_name="referral")
    task_ref = models.CharField(max_length=200, blank=True, help_text="The referrer's Task, for the closed loop")
    task_version = models.CharField(max_length=64, blank=True)
    requester_ref = models.CharField(max_length=200, blank=True)
    specialty = models.CharField(max_length=300, blank=True, help_text="The specialty as the EHR sent it (system|code)")
    canonical_specialty = models.CharField(
        max_length=64, blank=True, help_text="Canonical specialty code (terminology); blank until it is known"
    )
    specialty_display = models.CharField(max_length=300, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    auth_required = models.BooleanField(default=False)
    decline_reason = models.CharField(max_length=64, blank=True)
    appointment_ref = models.CharField(max_length=200, blank=True)
    # Booking from clinops (issue 15): the slot asked of the EHR, and the appointment a rebooking replaces.
    booking_slot_ref = models.CharField(max_length=200, blank=True)
    replaces_appointment_ref = models.CharField(max_length=200, blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True, help_text="When the EHR's appointment was booked")
    confirmed_at = models.DateTimeField(null=True, blank=True, help_text="When the patient confirmed the appointment")
    outreach_attempts = models.PositiveSmallIntegerField(default=0)
    exception_reason = models.CharField(max_length=300, blank=True, help_text="Why it is in the exceptions queue")
    possible_duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="possible_duplicates"
    )
    entered_by_hand = models.BooleanField(
        default=False, help_text="Entered by staff (a fax or phone referral), not received from the EHR"
    )

    class Meta:
        # Worklists read open items in a sort order, a page at a time: partial indexes over the
        # open items in each sort order let PostgreSQL walk the index and stop after a page,
        # whichever sites the user has (site is a filter, not the leading column).
        indexes = [
            models.Index(fields=["priority_rank", "due_at", "id"], condition=OPEN_ITEMS, name="ref_open_priority"),
            models.Index(fields=["due_at", "id"], condition=OPEN_ITEMS, name="ref_open_due"),
            models.Index(fields=["opened_at", "id"], condition=OPEN_ITEMS, name="ref_open_age"),
            models.Index(
                fields=["site", "queue", "priority_rank", "due_at", "id"], condition=OPEN_ITEMS, name="ref_open_queue"
            ),
            models.Index(
                fields=["queue", "priority_rank", "due_at", "id"], condition=OPEN_ITEMS, name="ref_open_queue_priority"
            ),
            # Queue counts (total, overdue, unassigned per site and queue) from the index alone.
            models.Index(
                fields=["site", "queue", "due_at", "assignee", "sla_paused_at"],
                condition=OPEN_ITEMS,
                name="ref_open_counts",
            ),
            models.Index(fields=["patient_ref", "specialty", "opened_at"], name="ref_duplicates"),
            # EHR events find their referral by the referrer's Task or the booked Appointment.
            models.Index(fields=["source", "task_ref"], name="ref_task"),
            models.Index(fields=["source", "appointment_ref"], name="ref_appointment"),
        ]

    def __str__(self) -> str:
        return f"Referral {self.pk} ({self.get_state_display()})"


class ReferralRoute(models.Model):
    """Where referrals from a source go: the most specific match on performer and specialty wins;
    a route with neither is the source's default."""

    source = models.ForeignKey(EhrSource, on_delete=models.CASCADE, related_name="+")
    performer_ref = models.CharField(max_length=200, blank=True, help_text="Organization/… or Location/…; blank: any")
    specialty = models.CharField(max_length=300, blank=True, help_text="Canonical specialty code; blank: any")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    service_line = models.ForeignKey(ServiceLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "performer_ref", "specialty"], name="ref_route_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.performer_ref or '*'} {self.specialty or '*'} → {self.site}"


class AttachmentManager(models.Manager["ReferralAttachment"]):
    """Lists never load the file itself (``data``); the download view asks for it."""

    def get_queryset(self) -> models.QuerySet["ReferralAttachment"]:
        return super().get_queryset().defer("data")


class ReferralAttachment(models.Model):
    """A document that came with a referral entered by hand (the faxed PDF). The bytes live in the
    database, like the inbox's raw payloads: durable, backed up with the items, never under a URL of
    their own; they are served only through the referral's access checks."""

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="attachments")
    filename = models.CharField(max_length=200, help_text="The name it was uploaded with (shown, never used as a path)")
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    data = models.BinaryField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    objects = AttachmentManager()

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.size} bytes) of referral {self.referral_id}"


class WaitListEntry(models.Model):
    """A scheduled referral waiting for an earlier slot (issue 15): offered freed slots in turn."""

    referral = models.OneToOneField(Referral, on_delete=models.PROTECT, related_name="wait_list_entry")
    active = models.BooleanField(default=True)
    joined_at = models.DateTimeField(default=timezone.now)
    joined_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["active", "joined_at"], name="ref_waitlist_active")]

    def __str__(self) -> str:
        return f"Wait list: referral {self.referral_id}{'' if self.active else ' (left)'}"


class SlotOffer(models.Model):
    """An earlier slot offered to a waiting referral, held for a while; several waiting referrals
    may be offered one slot at once (REFERRAL_OFFER_PARALLEL): the first to accept takes it."""

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for the patient's answer"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        EXPIRED = "expired", "Expired"
        WITHDRAWN = "withdrawn", "Withdrawn (another patient took the slot)"

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="slot_offers")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    slot_ref = models.CharField(max_length=200)
    slot_start = models.DateTimeField()
    current_start = models.DateTimeField(help_text="The start of the appointment the offer would replace")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    offered_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["expires_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["slot_ref", "referral"], name="ref_offer_once_per_slot_and_referral"),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="ref_offer_due")]

    def __str__(self) -> str:
        return f"Offer of {self.slot_ref} to referral {self.referral_id} ({self.status})"

    @property
    def days_sooner(self) -> float:
        return round((self.current_start - self.slot_start).total_seconds() / 86400, 1)
