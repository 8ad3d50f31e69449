"""What the shared worklist (``apps.workflow.worklist``) needs to know about results: their queues
and open states, the result's own columns, who may claim what (a result waiting for review is
the clinician's: it is taken from the inbox, not claimed here), where a result may be moved from
its state, and the safe bulk actions: a clinician acknowledges normal results (all or none), a
supervisor closes results whose follow-up is booked."""

from typing import Any

from apps.workflow.sla import SUPERVISOR_QUEUE
from apps.workflow.worklist import BulkAction, Column, WorklistSpec, queues_of_state, state_guarded

from .models import ResultItem
from .permissions import REVIEW, WORK
from .services import result_close, results_acknowledge
from .workflow import CLOSED_STATES, EXCEPTIONS_QUEUE, QUEUE_FOR_STATE, TO_REVIEW, State

QUEUES = (
    ("review", "Waiting for review"),
    ("notify", "Tell the patient"),
    ("follow_up", "Follow-up"),
    (EXCEPTIONS_QUEUE, "Exceptions"),
    (SUPERVISOR_QUEUE, "Supervisor"),
)


def claim_refusal(item: Any) -> str:
    """Who acts next on a result that is not claimed from the worklist."""
    if item.queue == EXCEPTIONS_QUEUE:
        return "Held: its interpretation code needs a mapping (terminology steward)"
    if item.state in TO_REVIEW:
        return "Waiting for a clinician's review"
    return ""


def _acknowledge(*, item_ids: list[int], by: Any, reason: str = "") -> None:
    results_acknowledge(item_ids=item_ids, by=by, note=reason)


RESULT_WORKLIST = WorklistSpec(
    workflow=ResultItem.WORKFLOW,
    namespace="results",
    title="Results",
    noun="result",
    plural="results",
    lede="Open results at your sites: review, tell the patient, book the follow-up, close",
    permissions=(WORK, REVIEW),
    work_permission=WORK,
    queues=QUEUES,
    states=tuple((state.value, state.label) for state in State if state not in CLOSED_STATES),
    columns=(
        Column("Result", "results/worklist/_result.html", css="wl-ref"),
        Column("Follow-up", "results/worklist/_decision.html", css="wl-decision"),
    ),
    queues_for=queues_of_state(QUEUE_FOR_STATE),
    claim_refusal=claim_refusal,
    bulk_actions=(
        BulkAction(
            key="acknowledge",
            label="Acknowledge normal results",
            done="acknowledged: reviewed, no follow-up needed, closed",
            permission=REVIEW,
            hint="Only normal results waiting for review; all of them or none",
            run_all=_acknowledge,
        ),
        BulkAction(
            key="close",
            label="Close (follow-up booked)",
            done="closed",
            permission="core.supervise_queues",
            hint="Only results whose follow-up is booked",
            run=state_guarded(
                ResultItem,
                State.FOLLOW_UP_SCHEDULED,
                lambda item_id, by, reason: result_close(item_id=item_id, by=by, note=reason),
                refusal="its follow-up is not booked yet; open it to see the next step.",
                code="not_booked",
            ),
        ),
    ),
    select_related=("site", "assignee", "reviewed_by"),
)
