"""How intakes behave in the transition engine: they stay in the intake queue; the SLA (ready
before the visit day) runs only while the checklist is being worked, so the sweep never
escalates a ready intake nor one whose patient is already here; an intake closes when cancelled,
a no-show, or the patient arrived with the checklist complete; finishing stamps ``ready_at`` and
arriving says whether it was complete before the visit (the scorecards read both)."""

from datetime import datetime
from typing import Any

from apps.workflow.models import Transition, TransitionSource
from apps.workflow.sla import SUPERVISOR_QUEUE
from apps.workflow.transitions import Clock, Policy, Step

from .workflow import ACTION_LABELS, ARRIVED_AND_DONE_STEP, DONE_LABELS, NEXT_STEP, STAFF_TRANSITIONS, State, is_closed

SLA_STOPPED = frozenset({State.READY, State.CHECKED_IN, State.COMPLETED_LATE})


class IntakePolicy(Policy):
    noun = "intake"
    staff_transitions = STAFF_TRANSITIONS
    reason_required = {"cancel": "Say why the intake is cancelled."}
    next_steps = NEXT_STEP
    done_labels = DONE_LABELS
    waiting_states = frozenset({State.READY})  # nothing to do before the visit day
    labels = ACTION_LABELS
    queue_labels = {"intake": "Intake"}

    def queues_for(self, item: Any) -> frozenset[str]:
        """Every intake is worked in the intake queue (or waits for a supervisor)."""
        return frozenset({"intake", SUPERVISOR_QUEUE})

    def next_step(self, item: Any) -> str:
        if not item.is_open and item.state in (State.CHECKED_IN, State.COMPLETED_LATE):
            return ARRIVED_AND_DONE_STEP
        return super().next_step(item)

    def fields(self, item: Any, name: str, from_state: str, now: datetime) -> None:
        if name in ("finish", "finish_late"):
            item.ready_at = now
        elif name == "reopen":
            item.ready_at = None
        if name in ("check_in", "mark_no_show"):
            item.complete_before_visit = bool(item.ready_at and item.ready_at < item.due_at)

    def step(self, item: Any, name: str, from_state: str) -> Step:
        return Step(clock=Clock.HOLD if item.state in SLA_STOPPED else Clock.RUN)

    def tell_ehr(self, item: Any, logged: Transition, *, business: tuple[str, str] | None = None) -> None:
        """The front desk checked the patient in or marked a no-show: the EHR's Appointment says so too
        (outbox, same transaction). What the EHR itself said is not sent back to it."""
        if logged.source == TransitionSource.STAFF and logged.transition in APPOINTMENT_STATUS:
            intake_tell_appointment(item, transition_id=logged.pk, status=APPOINTMENT_STATUS[logged.transition],
                                    correlation_id=logged.correlation_id)  # fmt: skip

    def is_closed(self, item: Any) -> bool:
        arrived = item.arrived_at is not None or item.checked_in_at is not None or item.state == State.CHECKED_IN
        return is_closed(item.state, arrived=arrived, checklist_complete=checklist_complete(item))


def checklist_complete(intake: Any) -> bool:
    return not intake.checks.filter(done_at__isnull=True).exists()


# A staff transition → the Appointment.status the EHR is told (FHIR R4 AppointmentStatus).
APPOINTMENT_STATUS = {"check_in": "arrived", "mark_no_show": "noshow"}


def intake_tell_appointment(intake: Any, *, transition_id: int, status: str, correlation_id: str = "") -> None:
    """Queue the update of the intake's Appointment status (written in the caller's transaction)."""
    from apps.ehr.services.outbox import outbox_enqueue

    outbox_enqueue(
        source=intake.source,
        resource_type="Appointment",
        resource_id=intake.appointment.fhir_id,
        changes={"status": status},
        dedupe_key=f"intake:{intake.pk}:transition:{transition_id}",
        correlation_id=correlation_id,
    )
