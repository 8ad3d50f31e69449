"""How results behave in the transition engine: the queue of each state (a new result held for an
unmapped interpretation code waits in exceptions), the review SLA restarts in every new queue and
when an item reopens, closed and voided are closed (an amended result reopens it), and an
overdue result escalates to whoever covers the responsible clinician (``escalation.py``)."""

from datetime import datetime
from typing import Any

from apps.workflow.sla import SUPERVISOR_QUEUE
from apps.workflow.transitions import Clock, Policy, Step

from .escalation import result_escalate
from .workflow import (
    ACTION_LABELS,
    CLOSED_STATES,
    DONE_LABELS,
    EXCEPTIONS_QUEUE,
    NEXT_STEP,
    QUEUE_FOR_STATE,
    QUEUE_LABELS,
    State,
)


class ResultPolicy(Policy):
    noun = "result"
    next_steps = NEXT_STEP
    waiting_states = frozenset({State.NEW})  # the ordering clinician reviews it, from their inbox
    labels = ACTION_LABELS
    done_labels = DONE_LABELS
    queue_labels = QUEUE_LABELS

    def queues_for(self, item: Any) -> frozenset[str]:
        """The queue of its state, or the supervisor's."""
        return frozenset({QUEUE_FOR_STATE[item.state], SUPERVISOR_QUEUE})

    held_step = (
        "Held until a terminology steward maps its interpretation code (then its criticality is known and it "
        "goes to review by itself); the ordering clinician can review it meanwhile."
    )

    def fields(self, item: Any, name: str, from_state: str, now: datetime) -> None:
        if name == "void" and not item.is_open:
            item.closed_at = now  # voiding a closed result closes it again, at the void

    def step(self, item: Any, name: str, from_state: str) -> Step:
        if item.state in CLOSED_STATES:
            return Step()
        queue = QUEUE_FOR_STATE[item.state]
        if item.state == State.NEW and item.exception_reason:
            queue = EXCEPTIONS_QUEUE
        if queue != item.queue or from_state in CLOSED_STATES or item.state == State.NEW:
            return Step(queue, Clock.START)
        return Step()

    def is_closed(self, item: Any) -> bool:
        return item.state in CLOSED_STATES

    def escalate(self, item: Any, now: datetime) -> None:
        result_escalate(item, now)
