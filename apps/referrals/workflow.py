"""The referral state machine.

    received ─triage─▶ triage ─accept─▶ accepted ─start_scheduling─▶ scheduling ─schedule─▶ scheduled
    scheduling ─book─▶ booking ─schedule (the EHR's Appointment)─▶ scheduled ─confirm─▶ confirmed
    booking ─booking_refused─▶ scheduling        scheduled / confirmed ─rebook─▶ booking
    scheduled / confirmed ─cancel_appointment─▶ scheduling (clinops cancels the EHR's Appointment)
                         │  ▲             └─request_auth─▶ pending_auth ─authorize─▶ scheduling
                         │  └─receive_info── needs_info ◀─request_info─ (received, triage, accepted)
                         └─decline─▶ declined
    scheduled ─complete─▶ completed        scheduled ─unschedule─▶ scheduling (no-show, appointment cancelled)
    any open state ─cancel─▶ cancelled     accepted / pending_auth / scheduling ─abandon─▶ abandoned
    a possible duplicate, before scheduled ─merge─▶ cancelled (folded into the referral it duplicates)
    An Appointment from the EHR schedules from any open state before scheduled.
    needs_info stops the SLA clock (waiting on the referrer).

Transitions change fields only; services lock, save, log and queue the closed-loop Task update.
Each state maps to the FHIR Task status and businessStatus sent back to the referrer.
"""

from datetime import datetime
from typing import TYPE_CHECKING

from django.db import models
from django_fsm import FSMField, transition


class State(models.TextChoices):
    RECEIVED = "received", "Received"
    TRIAGE = "triage", "In triage"
    ACCEPTED = "accepted", "Accepted"
    PENDING_AUTH = "pending_auth", "Pending authorisation"
    SCHEDULING = "scheduling", "Scheduling"
    BOOKING = "booking", "Booking"
    SCHEDULED = "scheduled", "Scheduled"
    CONFIRMED = "confirmed", "Patient confirmed"
    COMPLETED = "completed", "Completed"
    NEEDS_INFO = "needs_info", "Needs information"
    DECLINED = "declined", "Declined"
    CANCELLED = "cancelled", "Cancelled"
    ABANDONED = "abandoned", "Abandoned"


CLOSED = frozenset({State.COMPLETED, State.DECLINED, State.CANCELLED, State.ABANDONED})
OPEN = frozenset(State) - CLOSED
BEFORE_SCHEDULED = [
    State.RECEIVED,
    State.TRIAGE,
    State.ACCEPTED,
    State.PENDING_AUTH,
    State.SCHEDULING,
    State.BOOKING,
    State.NEEDS_INFO,
]
# Booked in the EHR: the patient has an appointment (confirmed or not yet).
HAS_APPOINTMENT = [State.SCHEDULED, State.CONFIRMED]

# Which queue an item sits in, by state (the exceptions and supervisor queues are set explicitly).
QUEUE_FOR_STATE = {
    State.RECEIVED: "triage",
    State.TRIAGE: "triage",
    State.ACCEPTED: "scheduling",
    State.PENDING_AUTH: "authorization",
    State.SCHEDULING: "scheduling",
    State.BOOKING: "scheduling",
    State.SCHEDULED: "scheduled",
    State.CONFIRMED: "scheduled",
    State.NEEDS_INFO: "waiting",
}

# Transition → its name as on the buttons (messages say "“Accept” is not possible now").
ACTION_LABELS = {
    "triage": "Start triage", "accept": "Accept", "request_auth": "Needs authorisation",
    "authorize": "Authorisation received", "start_scheduling": "Start scheduling", "request_info": "Ask the referrer",
    "receive_info": "Information received", "decline": "Decline", "schedule": "Schedule",
    "unschedule": "Back to scheduling", "complete": "Complete", "cancel": "Cancel referral",
    "merge": "Merge into the duplicate", "abandon": "Abandon",
    "book": "Book", "booking_refused": "Booking refused", "confirm": "Patient confirmed", "rebook": "Rebook",
    "cancel_appointment": "Cancel the appointment", "rebooking_refused": "Rebooking refused",
}  # fmt: skip

# Queue → how people say it (the exceptions and supervisor queues: apps.workflow's labels).
QUEUE_LABELS = {
    "triage": "Triage",
    "scheduling": "Scheduling",
    "authorization": "Authorisation",
    "waiting": "Waiting on referrer",
    "scheduled": "Scheduled",
}

# State → (Task.status, businessStatus code, businessStatus text): the closed loop.
TASK_STATUS = {
    State.RECEIVED: ("received", "received", "Received"),
    State.TRIAGE: ("received", "in-triage", "In triage"),
    State.ACCEPTED: ("accepted", "accepted", "Accepted"),
    State.PENDING_AUTH: ("accepted", "pending-authorization", "Pending authorization"),
    State.SCHEDULING: ("in-progress", "scheduling", "Scheduling"),
    State.BOOKING: ("in-progress", "scheduling", "Scheduling"),
    State.SCHEDULED: ("in-progress", "scheduled", "Scheduled"),
    State.CONFIRMED: ("in-progress", "scheduled", "Scheduled"),
    State.COMPLETED: ("completed", "completed", "Completed"),
    State.NEEDS_INFO: ("on-hold", "needs-information", "Needs information"),
    State.DECLINED: ("rejected", "declined", "Declined"),
    State.CANCELLED: ("cancelled", "cancelled", "Cancelled"),
    State.ABANDONED: ("failed", "patient-not-reached", "Patient not reached"),
}

# Transition → what happened, on the referral's timeline (Policy.done_label).
DONE_LABELS = {
    "receive": "Received from the EHR",
    "triage": "Triage started",
    "accept": "Accepted",
    "request_auth": "Authorisation requested",
    "authorize": "Authorised",
    "start_scheduling": "Scheduling started",
    "request_info": "Information requested from the referrer",
    "receive_info": "Information received",
    "decline": "Declined",
    "schedule": "Scheduled",
    "unschedule": "Back to scheduling",
    "complete": "Completed",
    "cancel": "Cancelled",
    "abandon": "Abandoned",
    "claim": "Claimed",
    "release": "Released",
    "reassign": "Reassigned",
    "move": "Moved",
    "escalate": "Escalated to the supervisor queue",
    "ehr_update": "Updated by the EHR",
    "forward": "Forwarded to another service line",
    "merge": "Merged into its duplicate",
    "merge_in": "A duplicate was merged in",
    "route": "Routed: its specialty code is now mapped",
    "book": "Booking sent to the EHR",
    "rebook": "Rebooking sent to the EHR",
    "booking_refused": "The EHR refused the booking",
    "rebooking_refused": "The EHR refused the rebooking",
    "confirm": "Patient confirmed",
    "cancel_appointment": "Appointment cancelled",
    "wait_list_join": "Joined the wait list",
    "wait_list_leave": "Left the wait list",
    "offer": "Earlier slot offered",
    "offer_declined": "Earlier slot declined",
    "offer_expired": "Earlier slot offer expired",
    "offer_withdrawn": "Earlier slot offer withdrawn",
    "consult_note": "Consult note linked to the referral",
    "booking_withdrawn": "Booking withdrawn from the EHR",
}

# State → the next step, or who acts next (shown on the item page).
NEXT_STEP: dict[str, str] = {
    State.RECEIVED: "Start triage: read the referral, then accept it, ask the referrer for more information "
    "or decline it.",
    State.TRIAGE: "Accept the referral, ask the referrer for more information, or decline it.",
    State.ACCEPTED: "Start scheduling, or say that the payer's authorisation is needed first.",
    State.PENDING_AUTH: "Waiting for the payer's authorisation: press “Authorisation received” when it arrives.",
    State.SCHEDULING: "Find a free slot and book it here after the patient agrees, or book the appointment in "
    "the EHR (clinops marks this referral scheduled when the EHR's appointment arrives). Record each call to the "
    "patient under Outreach.",
    State.BOOKING: "Waiting for the EHR to confirm the booking: nothing to do unless it refuses the slot (the "
    "referral then comes back to scheduling with the reason).",
    State.SCHEDULED: "Call the patient to confirm the appointment and press “Patient confirmed”; otherwise "
    "nothing to do until the visit (a cancelled or missed appointment brings the referral back to scheduling).",
    State.CONFIRMED: "Nothing to do now: the patient said they will come, and the EHR tells clinops when the "
    "visit has taken place.",
    State.NEEDS_INFO: "Waiting for the referrer's answer (the SLA clock is paused): press “Information received” "
    "when it arrives.",
    State.COMPLETED: "Closed: the visit took place and the referrer has been told. Nothing left to do.",
    State.DECLINED: "Closed: declined, and the referrer has been told. Nothing left to do.",
    State.CANCELLED: "Closed: cancelled, and the referrer has been told. Nothing left to do.",
    State.ABANDONED: "Closed: the patient could not be reached, and the referrer has been told. Nothing left to do.",
}

# Who may fire which transition from the worklist (EHR-driven ones are for the system only).
STAFF_TRANSITIONS = frozenset(
    {"triage", "accept", "request_auth", "authorize", "start_scheduling", "request_info", "receive_info", "decline",
     "abandon", "cancel", "merge", "confirm", "cancel_appointment"}
)  # fmt: skip


class ReferralTransitions(models.Model):
    state = FSMField(default=State.RECEIVED, choices=State.choices, protected=True)
    if TYPE_CHECKING:  # fields of the concrete model the transitions set
        confirmed_at: datetime | None

    class Meta:
        abstract = True

    @transition(field=state, source=State.RECEIVED, target=State.TRIAGE)
    def triage(self) -> None:
        pass

    @transition(field=state, source=State.TRIAGE, target=State.ACCEPTED)
    def accept(self) -> None:
        pass

    @transition(field=state, source=State.ACCEPTED, target=State.PENDING_AUTH)
    def request_auth(self) -> None:
        self.auth_required = True

    @transition(field=state, source=State.PENDING_AUTH, target=State.SCHEDULING)
    def authorize(self) -> None:
        pass

    @transition(field=state, source=State.ACCEPTED, target=State.SCHEDULING)
    def start_scheduling(self) -> None:
        pass

    @transition(field=state, source=[State.RECEIVED, State.TRIAGE, State.ACCEPTED], target=State.NEEDS_INFO)
    def request_info(self) -> None:
        pass

    @transition(field=state, source=State.NEEDS_INFO, target=State.TRIAGE)
    def receive_info(self) -> None:
        pass

    @transition(field=state, source=[State.RECEIVED, State.TRIAGE, State.NEEDS_INFO], target=State.DECLINED)
    def decline(self, reason_code: str = "") -> None:
        self.decline_reason = reason_code

    @transition(field=state, source=BEFORE_SCHEDULED, target=State.SCHEDULED)
    def schedule(self, appointment_ref: str = "") -> None:
        self.appointment_ref = appointment_ref
        self.booking_slot_ref = ""

    @transition(field=state, source=HAS_APPOINTMENT, target=State.SCHEDULING)
    def unschedule(self) -> None:
        """The appointment was cancelled or the patient did not come: back to scheduling."""
        self.appointment_ref = ""
        self.booking_slot_ref = ""
        self.confirmed_at = None

    @transition(field=state, source=State.SCHEDULING, target=State.BOOKING)
    def book(self, slot_ref: str = "") -> None:
        """clinops asked the EHR for this slot (the outbox); the EHR's answer decides."""
        self.booking_slot_ref = slot_ref

    @transition(field=state, source=HAS_APPOINTMENT, target=State.BOOKING)
    def rebook(self, slot_ref: str = "") -> None:
        """A new slot asked of the EHR; the old appointment is cancelled once the new one is booked."""
        self.booking_slot_ref = slot_ref
        self.replaces_appointment_ref = self.appointment_ref
        self.confirmed_at = None

    @transition(field=state, source=State.BOOKING, target=State.SCHEDULING)
    def booking_refused(self) -> None:
        """The EHR refused the slot (taken, or another reason): back to scheduling."""
        self.booking_slot_ref = ""
        self.replaces_appointment_ref = ""

    @transition(field=state, source=State.BOOKING, target=State.SCHEDULED)
    def rebooking_refused(self) -> None:
        """The EHR refused the new slot of a rebooking: the appointment the patient had stays."""
        self.booking_slot_ref = ""
        self.replaces_appointment_ref = ""

    @transition(field=state, source=HAS_APPOINTMENT, target=State.SCHEDULING)
    def cancel_appointment(self) -> None:
        """Staff cancel the appointment in clinops (the EHR hears it through the outbox)."""
        self.appointment_ref = ""
        self.booking_slot_ref = ""
        self.confirmed_at = None

    @transition(field=state, source=State.SCHEDULED, target=State.CONFIRMED)
    def confirm(self) -> None:
        """The patient said they will come."""
        pass  # the time is the transition's (ReferralPolicy.fields)

    @transition(field=state, source=HAS_APPOINTMENT, target=State.COMPLETED)
    def complete(self) -> None:
        pass

    @transition(field=state, source=list(OPEN), target=State.CANCELLED)
    def cancel(self) -> None:
        pass

    @transition(field=state, source=[s for s in BEFORE_SCHEDULED if s != State.BOOKING], target=State.CANCELLED)
    def merge(self) -> None:
        """A duplicate folded into the referral it duplicates (the service records which)."""
        self.decline_reason = "duplicate"

    @transition(field=state, source=[State.ACCEPTED, State.PENDING_AUTH, State.SCHEDULING], target=State.ABANDONED)
    def abandon(self) -> None:
        pass
