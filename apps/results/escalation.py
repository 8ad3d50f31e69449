"""When a result's review SLA is breached (the shared SLA sweep, a beat task): the item becomes
``escalated`` and goes to whoever covers the responsible clinician now, else to the supervisor
queue; the timeline says which. Later steps (notification, follow-up) escalate the default way."""

from datetime import datetime

from apps.workflow.models import TransitionSource
from apps.workflow.sla import SUPERVISOR_QUEUE
from apps.workflow.transitions import escalate_to_supervisor, transition_record

from .clinicians import covering_for
from .models import ResultItem
from .workflow import State


def result_escalate(item: ResultItem, now: datetime) -> None:
    """Escalate one locked, overdue result (saves and logs)."""
    if item.state != State.NEW:
        escalate_to_supervisor(item, now)
        return
    responsible = item.assignee or item.ordering_clinician
    coverer = covering_for(item.ordering_clinician or item.assignee, now)
    if coverer is not None and coverer != item.assignee:
        item.assignee, item.claimed_at = coverer, now
        where = f"to {coverer}, covering for {responsible}"
    else:
        item.queue = SUPERVISOR_QUEUE
        where = "to the supervisor queue"
    item.escalate()
    item.escalated_at = now
    item.save()
    transition_record(
        item, transition="escalate", from_state=State.NEW, source=TransitionSource.TIMER, at=now,
        reason=f"{item.get_criticality_display()} result not reviewed within its SLA: escalated {where}",
    )  # fmt: skip
