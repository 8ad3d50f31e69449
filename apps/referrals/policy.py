"""How referrals behave in the transition engine: the queue of each state, needs_info stops the
SLA clock (waiting on the referrer) and receive_info restarts it where it stopped, the closed
states, and the closed loop: every transition updates the referrer's Task (outbox, same
transaction) with the state's status and businessStatus, or the one the service names."""

from datetime import datetime
from typing import Any

from django.utils import timezone

from apps.workflow.models import Transition, TransitionSource
from apps.workflow.sla import SUPERVISOR_QUEUE
from apps.workflow.transitions import EXCEPTIONS_QUEUE, Clock, Policy, Step

from .models import Referral
from .workflow import (
    ACTION_LABELS,
    CLOSED,
    DONE_LABELS,
    NEXT_STEP,
    QUEUE_FOR_STATE,
    QUEUE_LABELS,
    STAFF_TRANSITIONS,
    TASK_STATUS,
    State,
)


class ReferralPolicy(Policy):
    noun = "referral"
    staff_transitions = STAFF_TRANSITIONS
    reason_required = {"cancel": "Say why the referral is cancelled."}
    next_steps = NEXT_STEP
    done_labels = DONE_LABELS
    waiting_states = frozenset({State.SCHEDULED, State.NEEDS_INFO, State.PENDING_AUTH})
    labels = ACTION_LABELS
    queue_labels = QUEUE_LABELS

    def queues_for(self, item: Any) -> frozenset[str]:
        """The queue of its state, or the supervisor's."""
        return frozenset({QUEUE_FOR_STATE[item.state], SUPERVISOR_QUEUE})

    def step(self, item: Any, name: str, from_state: str) -> Step:
        if item.state in CLOSED:
            return Step()
        queue = QUEUE_FOR_STATE.get(item.state, item.queue)
        if item.state == State.NEEDS_INFO:
            return Step(queue, Clock.PAUSE)
        if from_state == State.NEEDS_INFO:
            return Step(queue, Clock.RESUME)
        if queue != item.queue and item.queue != EXCEPTIONS_QUEUE:  # a held referral stays held
            return Step(queue, Clock.START)
        return Step()

    def fields(self, item: Any, name: str, from_state: str, now: datetime) -> None:
        """When the appointment was booked and when the patient confirmed it (the confirmation measure)."""
        if name == "schedule":
            item.scheduled_at = now
        elif name == "confirm":
            item.confirmed_at = now

    def is_closed(self, item: Any) -> bool:
        return item.state in CLOSED

    def tell_ehr(self, item: Any, logged: Transition, *, business: tuple[str, str] | None = None) -> None:
        referral_notify_referrer(
            item, transition_id=logged.pk, correlation_id=logged.correlation_id, business=business,
            status_reason=_status_reason(item, logged),
        )  # fmt: skip
        if logged.transition == "cancel" and logged.from_state == State.BOOKING:
            from .services.booking import booking_withdraw

            booking_withdraw(referral=item, reason=f"Referral cancelled: {logged.reason}"[:200])
        elif (logged.transition == "cancel" and logged.from_state in (State.SCHEDULED, State.CONFIRMED)
              and logged.source != TransitionSource.EHR):  # fmt: skip
            # Cancelled in clinops with an appointment booked: the EHR cancels it too, freeing the slot
            # (the EHR's own cancellation of a referral is its business, appointment included).
            from .services.booking import appointment_cancel_in_ehr

            appointment_cancel_in_ehr(referral=item, appointment_ref=item.appointment_ref,
                                      reason=f"Referral cancelled: {logged.reason}"[:200])  # fmt: skip
        if logged.transition == "request_info" and item.task_ref.startswith("Task/"):
            referral_ask_referrer(item, question=logged.reason, transition_id=logged.pk,
                                  correlation_id=logged.correlation_id)  # fmt: skip


DECLINE_REASON_SYSTEM = "http://clinops.example.org/fhir/CodeSystem/referral-decline-reason"
QUESTION_SYSTEM = "http://clinops.example.org/fhir/referral-question"


def _status_reason(referral: Referral, logged: Transition) -> dict[str, Any] | None:
    """Task.statusReason: the decline's coded reason and note, the question asked, or who cancelled."""
    if logged.transition == "decline":
        from .forms import DECLINE_REASONS

        display = dict(DECLINE_REASONS).get(referral.decline_reason, referral.decline_reason)
        coding = [{"system": DECLINE_REASON_SYSTEM, "code": referral.decline_reason, "display": display}]
        return {"coding": coding, "text": logged.reason or display}
    if logged.transition == "request_info":
        return {"text": f"Information needed: {logged.reason}"}
    if logged.transition in ("cancel", "merge"):
        who = f"{logged.actor} (clinops)" if logged.actor else "the EHR"
        return {"text": f"Cancelled by {who}: {logged.reason}"}
    return None


def referral_ask_referrer(referral: Referral, *, question: str, transition_id: int, correlation_id: str = "") -> None:
    """Queue a Communication about the referrer's Task carrying the question (conditional create:
    a repeated send makes no second one); their answer comes back through ingestion."""
    from apps.ehr.services.outbox import outbox_enqueue

    communication = {
        "status": "completed",
        "identifier": [{"system": QUESTION_SYSTEM, "value": f"referral-{referral.pk}-question-{transition_id}"}],
        "about": [{"reference": referral.task_ref}],
        "basedOn": [{"reference": referral.service_request.reference}],
        "subject": {"reference": referral.patient_ref} if referral.patient_ref else None,
        "recipient": [{"reference": referral.requester_ref}] if referral.requester_ref else None,
        "sent": timezone.now().isoformat(),
        "payload": [{"contentString": question}],
    }
    outbox_enqueue(
        source=referral.source,
        resource_type="Communication",
        resource_id="",
        operation="create",
        changes={k: v for k, v in communication.items() if v is not None},
        dedupe_key=f"referral:{referral.pk}:question:{transition_id}",
        correlation_id=correlation_id,
    )


def referral_notify_referrer(
    referral: Referral, *, transition_id: int, correlation_id: str = "", business: tuple[str, str] | None = None,
    status_reason: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """Queue the referrer's Task update for this state (written in the caller's transaction)."""
    if not referral.task_ref.startswith("Task/"):
        return
    from apps.ehr.services.outbox import outbox_enqueue

    status, code, text = TASK_STATUS[referral.state]
    if business:
        code, text = business
    extra = {"statusReason": status_reason} if status_reason else {}
    outbox_enqueue(
        source=referral.source,
        resource_type="Task",
        resource_id=referral.task_ref.split("/", 1)[1],
        changes={
            "status": status,
            "businessStatus": {
                "coding": [{"system": "http://clinops.example.org/fhir/CodeSystem/referral-status", "code": code}],
                "text": text,
            },
            "lastModified": timezone.now().isoformat(),
            **extra,
        },
        if_match_version=referral.task_version,
        dedupe_key=f"referral:{referral.pk}:transition:{transition_id}",
        correlation_id=correlation_id,
    )
