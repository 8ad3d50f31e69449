"""The results follow-up state machine.

    new ─review─▶ reviewed ─notify─▶ patient_notified ─schedule_follow_up─▶ follow_up_scheduled ─close─▶ closed
     │  ▲            └─close (follow-up "none")─▶ closed      └─close (no follow-up needed)─▶ closed
     │  └────────── reopen (an amended or corrected version) ◀── any state but voided
     └─escalate (review SLA breached)─▶ escalated ─review─▶ reviewed
    any state but voided ─void (entered-in-error)─▶ voided

Transitions change fields only; services lock, save, log (apps.workflow transition log) and
decide who holds the item. The review SLA depends on the criticality (critical, abnormal, normal).
"""

from django.db import models
from django_fsm import FSMField, transition


class State(models.TextChoices):
    NEW = "new", "New"
    ESCALATED = "escalated", "Escalated"
    REVIEWED = "reviewed", "Reviewed"
    PATIENT_NOTIFIED = "patient_notified", "Patient notified"
    FOLLOW_UP_SCHEDULED = "follow_up_scheduled", "Follow-up scheduled"
    CLOSED = "closed", "Closed"
    VOIDED = "voided", "Voided"


class Criticality(models.TextChoices):
    CRITICAL = "critical", "Critical"
    ABNORMAL = "abnormal", "Abnormal"
    NORMAL = "normal", "Normal"


class FollowUp(models.TextChoices):
    NONE = "none", "None"
    NOTIFY_ONLY = "notify_only", "Notify the patient only"
    REPEAT_TEST = "repeat_test", "Repeat the test"
    APPOINTMENT = "appointment", "Book an appointment"


class NotifyMethod(models.TextChoices):
    PHONE = "phone", "Phone call"
    PORTAL = "portal", "Patient portal message"
    LETTER = "letter", "Letter"
    IN_PERSON = "in_person", "In person"
    SMS = "sms", "Text message"


# Criticality → the shared priority scale, so SLA policies and the worklist sort can use it.
PRIORITY_FOR = {Criticality.CRITICAL: "stat", Criticality.ABNORMAL: "urgent", Criticality.NORMAL: "routine"}
CRITICALITY_RANK: dict[str, int] = {Criticality.CRITICAL: 0, Criticality.ABNORMAL: 1, Criticality.NORMAL: 2}
CLOSED_STATES = frozenset({State.CLOSED, State.VOIDED})
TO_REVIEW = (State.NEW, State.ESCALATED)
NEEDS_SCHEDULING = frozenset({FollowUp.REPEAT_TEST, FollowUp.APPOINTMENT})
REVIEW_QUEUE, NOTIFY_QUEUE, FOLLOW_UP_QUEUE, EXCEPTIONS_QUEUE = "review", "notify", "follow_up", "exceptions"
QUEUE_FOR_STATE = {
    State.NEW: REVIEW_QUEUE,
    State.ESCALATED: REVIEW_QUEUE,
    State.REVIEWED: NOTIFY_QUEUE,
    State.PATIENT_NOTIFIED: FOLLOW_UP_QUEUE,
    State.FOLLOW_UP_SCHEDULED: FOLLOW_UP_QUEUE,
}
# Transition → its name as on the buttons (messages say "“Close” is not possible now").
ACTION_LABELS = {
    "review": "Mark reviewed", "escalate": "Escalate", "notify": "Record notification",
    "schedule_follow_up": "Follow-up booked", "close": "Close", "reopen": "Reopen", "void": "Void",
}  # fmt: skip
# Transition → what happened, on the result's timeline.
DONE_LABELS = {
    "receive": "Received from the EHR", "review": "Reviewed", "escalate": "Escalated", "notify": "Patient notified",
    "schedule_follow_up": "Follow-up booked", "close": "Closed", "reopen": "Reopened (amended result)",
    "void": "Voided", "claim": "Taken for review", "reassign": "Given to a clinician",
    "interpret": "Interpretation mapped", "ehr_update": "Updated by the EHR",
}  # fmt: skip

# State → the next step, or who acts next (shown on the result's page).
NEXT_STEP: dict[str, str] = {
    State.NEW: "Waiting for the ordering clinician to review it (or whoever covers their results inbox).",
    State.ESCALATED: "Overdue for review: the covering clinician reviews it now, or a supervisor gives it to a "
    "clinician of the site.",
    State.REVIEWED: "A medical assistant tells the patient and records how (result follow-up worklist).",
    State.PATIENT_NOTIFIED: "A medical assistant books the repeat test or appointment the clinician asked for, "
    "then records it here.",
    State.FOLLOW_UP_SCHEDULED: "The follow-up is booked: a medical assistant closes the result.",
    State.CLOSED: "Closed: nothing left to do.",
    State.VOIDED: "Voided: the EHR marked the result as entered in error. Nothing left to do.",
}
QUEUE_LABELS = {REVIEW_QUEUE: "Review", NOTIFY_QUEUE: "Notify the patient", FOLLOW_UP_QUEUE: "Follow-up"}
NOT_VOIDED = [s for s in State if s != State.VOIDED]


def close_allowed(item: "ResultTransitions") -> bool:
    """Close once nothing is left to do: no follow-up, or the patient told (and any follow-up booked)."""
    if item.state == State.REVIEWED:
        return item.follow_up == FollowUp.NONE
    if item.state == State.PATIENT_NOTIFIED:
        return item.follow_up not in NEEDS_SCHEDULING
    return item.state == State.FOLLOW_UP_SCHEDULED


def notify_allowed(item: "ResultTransitions") -> bool:
    return item.follow_up != FollowUp.NONE


class ResultTransitions(models.Model):
    state = FSMField(default=State.NEW, choices=State.choices, protected=True)

    class Meta:
        abstract = True

    @transition(field=state, source=list(TO_REVIEW), target=State.REVIEWED)
    def review(self, follow_up: str = FollowUp.NONE, note: str = "") -> None:
        self.follow_up, self.follow_up_note = follow_up, note

    @transition(field=state, source=State.NEW, target=State.ESCALATED)
    def escalate(self) -> None:
        pass

    @transition(field=state, source=State.REVIEWED, target=State.PATIENT_NOTIFIED, conditions=[notify_allowed])  # type: ignore[list-item]  # a mixin of the model
    def notify(self, how: str = "") -> None:
        self.notification_method = how

    @transition(
        field=state,
        source=State.PATIENT_NOTIFIED,
        target=State.FOLLOW_UP_SCHEDULED,
        conditions=[lambda item: item.follow_up in NEEDS_SCHEDULING],  # type: ignore[attr-defined]
    )
    def schedule_follow_up(self) -> None:
        pass

    @transition(
        field=state,
        source=[State.REVIEWED, State.PATIENT_NOTIFIED, State.FOLLOW_UP_SCHEDULED],
        target=State.CLOSED,
        conditions=[close_allowed],  # type: ignore[list-item]
    )
    def close(self) -> None:
        pass

    @transition(field=state, source=NOT_VOIDED, target=State.NEW)
    def reopen(self) -> None:
        """An amended or corrected version: reviewed again from the start."""
        self.follow_up, self.follow_up_note, self.notification_method = "", "", ""

    @transition(field=state, source=NOT_VOIDED, target=State.VOIDED)
    def void(self, void_reason: str = "") -> None:
        self.void_reason = void_reason
