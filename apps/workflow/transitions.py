"""The one transition engine of the three workflows.

Every state change goes the same way: lock the item (``item_lock``), check the transition may
fire (a refusal is a ``ConflictError`` ``transition_not_allowed``), fire it (django-fsm-2: fields
only), apply the workflow's policy (extra fields, queue, SLA clock, open or closed), save, append
to the transition log, then the policy's effects: what to tell the EHR (an outbox write, in the
same transaction) and anything to run after commit (``functools.partial``, never a lambda).

A workflow says how its items behave by registering a ``Policy`` with its model
(``apps.workflow.registry.workflow_register``, in ``AppConfig.ready()``).
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from apps.core.errors import ApplicationError, ConflictError
from apps.core.models import User
from apps.core.roles import roles_of

from .announce import transition_announce
from .models import Transition, TransitionSource, WorkItem
from .permissions import ensure_can
from .registry import workflow_model, workflow_policy
from .sla import SUPERVISOR_QUEUE, sla_pause, sla_resume, sla_start


class Clock(StrEnum):
    """What a transition does to the SLA clock."""

    KEEP = "keep"  # leave it as it is
    START = "start"  # a fresh due time for the queue entered
    PAUSE = "pause"  # waiting on someone outside: remember what was left
    RESUME = "resume"  # restart with what was left when it paused
    HOLD = "hold"  # nothing to chase now: the sweep skips it, the due time stays
    RUN = "run"  # lift a hold


@dataclass(frozen=True)
class Step:
    """Where a transition leaves an item: the queue it enters (None: it stays) and its clock."""

    queue: str | None = None
    clock: Clock = Clock.KEEP


class Policy:
    """How one workflow's items behave around a transition. The defaults do nothing special:
    items stay in their queue, never close, tell the EHR nothing and escalate to the supervisor."""

    noun = "item"  # in messages: "This referral is declined; …"
    labels: Mapping[str, str] = {}  # transition name → how people say it
    staff_transitions: frozenset[str] = frozenset()  # what people may fire (the rest: EHR, timers)
    reason_required: Mapping[str, str] = {}  # staff transition → what to ask when its reason is blank
    # State → the next step, or who acts next, in a plain sentence: every item page shows it, so
    # no state leaves a user without a way on (a test asserts every state of every workflow has one).
    next_steps: Mapping[str, str] = {}
    # States whose next step is someone else's (the EHR, the referrer, the payer, a clinician):
    # "Open my next item" passes over them, so it never opens an item with nothing to do.
    waiting_states: frozenset[str] = frozenset()
    # An item held in the exceptions queue waits for a steward, whatever its state.
    held_step = (
        "Held until a terminology steward maps its code; it then moves on by itself. "
        "A supervisor can also move it to a queue by hand."
    )

    queue_labels: Mapping[str, str] = {}  # queue name → how people say it
    done_labels: Mapping[str, str] = {}  # transition name → what happened, for timelines
    SHARED_DONE = {
        "claim": "Claimed", "release": "Released", "reassign": "Reassigned", "move": "Moved to another queue",
        "escalate": "Escalated", "ehr_update": "Updated by the EHR",
    }  # fmt: skip

    def label(self, name: str) -> str:
        """A transition as people say it (never snake_case)."""
        return self.labels.get(name, name.replace("_", " "))

    def done_label(self, name: str) -> str:
        """A logged transition as people say it on a timeline (never snake_case)."""
        return self.done_labels.get(name) or self.SHARED_DONE.get(name) or name.replace("_", " ").capitalize()

    def queue_label(self, queue: str) -> str:
        """A queue as people say it (never snake_case)."""
        shared = {SUPERVISOR_QUEUE: "Supervisor", EXCEPTIONS_QUEUE: "Exceptions"}
        return self.queue_labels.get(queue) or shared.get(queue) or queue.replace("_", " ").capitalize()

    def queues_for(self, item: Any) -> frozenset[str] | None:
        """The queues a supervisor may move an open item to in its state (None: any queue)."""
        return None

    def next_step(self, item: Any) -> str:
        """The next step of this item, or who acts next, as one plain sentence."""
        if item.is_open and item.queue == EXCEPTIONS_QUEUE:
            return self.held_step
        return self.next_steps.get(item.state, "")

    def fields(self, item: Any, name: str, from_state: str, now: datetime) -> None:
        """Extra field updates of a transition (after it fired, before queue and clock)."""

    def step(self, item: Any, name: str, from_state: str) -> Step:
        """The queue and SLA clock after a transition."""
        return Step()

    def is_closed(self, item: Any) -> bool:
        """Whether the item is done with (closed items leave the worklists and the SLA sweep)."""
        return False

    def tell_ehr(self, item: Any, logged: Transition, *, business: tuple[str, str] | None = None) -> None:
        """Write what the EHR should hear of this transition to the outbox (same transaction)."""

    def after_commit(self, item: Any, logged: Transition) -> Iterable[Callable[[], Any]]:
        """Work to queue once the transaction commits (``functools.partial`` of a task's delay)."""
        return ()

    def escalate(self, item: Any, now: datetime) -> None:
        """Escalate a locked, overdue item (saves and logs it)."""
        escalate_to_supervisor(item, now)


def transition_record(
    item: WorkItem,
    *,
    transition: str,
    from_state: str,
    by: User | None = None,
    source: str = TransitionSource.STAFF,
    reason: str = "",
    correlation_id: str = "",
    at: datetime | None = None,
) -> Transition:
    """Append one row to the transition log (the source of every KPI); whoever the item is now
    given or escalated to hears of it (``announce``)."""
    roles = roles_of(by) if by is not None else []
    logged = Transition.objects.create(
        workflow=item.WORKFLOW,
        item_id=item.pk,
        site_id=item.site_id,
        service_line_id=item.service_line_id,
        transition=transition,
        from_state=from_state,
        to_state=item.state,
        queue=item.queue,
        priority=item.priority,
        actor=by,
        actor_role=roles[0] if roles else "",
        source=source,
        at=at or timezone.now(),
        reason=reason,
        correlation_id=correlation_id,
    )
    transition_announce(item, logged)  # who is now asked to act hears of it (same transaction)
    return logged


def item_lock(workflow: str, item_id: int) -> Any:
    """The item, its row locked until the transaction ends (raises DoesNotExist)."""
    model = workflow_model(workflow)
    return model.objects.select_for_update(of=("self",)).select_related("site", "assignee").get(pk=item_id)


def staff_lock(workflow: str, item_id: int, name: str, *, by: User, reason: str = "") -> Any:
    """Lock an item for a transition a person fires: one the workflow lets staff fire, with the
    reason it requires, by someone who works the item's queue at its site."""
    policy = workflow_policy(workflow)
    if name in policy.reason_required and not reason.strip():
        raise ApplicationError(policy.reason_required[name], code="reason_required")
    if name not in policy.staff_transitions:
        raise ApplicationError(f"“{policy.label(name)}” is not a staff action.", code="not_a_staff_action")
    item = item_lock(workflow, item_id)
    ensure_can(by, item, "work")
    return item


def transition_apply(
    item: Any,
    name: str,
    *,
    by: User | None = None,
    source: str = TransitionSource.STAFF,
    reason: str = "",
    correlation_id: str = "",
    at: datetime | None = None,
    business: tuple[str, str] | None = None,
    **kwargs: Any,
) -> Transition:
    """Fire a transition on a locked item: check, fire, policy (fields, queue, SLA, open/closed),
    save, log; the EHR is told in the same transaction, the rest after commit. Returns the log row."""
    policy = workflow_policy(item.WORKFLOW)
    method = getattr(item, name)
    if not can_proceed(method):
        raise ConflictError(
            f"This {policy.noun} is {item.get_state_display().lower()}: “{policy.label(name)}” is not possible now.",
            code="transition_not_allowed",
        )
    from_state = item.state
    method(**kwargs)
    now = at or timezone.now()
    policy.fields(item, name, from_state, now)
    _step(item, policy.step(item, name, from_state), now)
    _open_set(item, closed=policy.is_closed(item), now=now)
    item.save()
    logged = transition_record(
        item, transition=name, from_state=from_state, by=by, source=source, reason=reason,
        correlation_id=correlation_id, at=now,
    )  # fmt: skip
    _effects(policy, item, logged, business=business)
    return logged


def item_open(
    item: Any,
    *,
    transition: str,
    source: str = TransitionSource.EHR,
    reason: str = "",
    correlation_id: str = "",
) -> Transition:
    """Save a new item (fields, queue and SLA set by the caller; saved already when it needed a
    key, e.g. for its checklist), log its first transition and tell the EHR like any transition."""
    if item.pk is None:
        item.save()
    logged = transition_record(
        item, transition=transition, from_state="", source=source, reason=reason, correlation_id=correlation_id
    )
    _effects(workflow_policy(item.WORKFLOW), item, logged)
    return logged


def open_settle(item: Any, *, now: datetime | None = None) -> None:
    """Set open/closed from the policy without a transition (e.g. a checklist line ticked)."""
    _open_set(item, closed=workflow_policy(item.WORKFLOW).is_closed(item), now=now or timezone.now())


def item_requeue(
    item: Any,
    *,
    queue: str,
    transition: str,
    by: User | None = None,
    source: str = TransitionSource.STAFF,
    reason: str = "",
    fresh_clock: bool = True,
) -> Transition:
    """Put a locked item in a queue, save and log (its state unchanged). ``fresh_clock``: a new due
    time for that queue (an item released from a hold); else its due time stays (a supervisor's move
    must not make an overdue item look on time)."""
    item.queue = queue
    if fresh_clock:
        sla_start(item)
    item.save()
    return transition_record(item, transition=transition, from_state=item.state, by=by, source=source, reason=reason)


# Sets the fields of a held item that a new mapping releases and returns (queue, reason), or
# None when the item is still held.
Release = Callable[[Any], tuple[str, str] | None]


def held_release(workflow: str, item_ids: Iterable[int], *, transition: str, release: Release) -> int:
    """A mapping became active: each item it changes, in its own transaction, locked and
    re-checked, is released by ``release`` and logged as a system transition. An item leaving
    the exceptions queue is re-queued with its SLA started; one already in a queue keeps its
    clock (a new mapping does not make a late item new). Returns how many moved."""
    moved = 0
    for item_id in item_ids:
        with transaction.atomic():
            item = item_lock(workflow, item_id)
            held = item.queue == EXCEPTIONS_QUEUE
            released = release(item)
            if released is None:
                continue
            queue, reason = released
            if held and queue != EXCEPTIONS_QUEUE:
                item_requeue(item, queue=queue, transition=transition, source=TransitionSource.SYSTEM, reason=reason)
            else:
                item.queue = queue
                item.save()
                transition_record(
                    item, transition=transition, from_state=item.state, source=TransitionSource.SYSTEM, reason=reason
                )
            moved += 1
    return moved


EXCEPTIONS_QUEUE = "exceptions"


def escalate_to_supervisor(item: WorkItem, now: datetime) -> None:
    """The default escalation of a locked, overdue item: to the supervisor queue, logged."""
    item.escalated_at = now
    previous_queue = item.queue
    item.queue = SUPERVISOR_QUEUE
    item.save(update_fields=["escalated_at", "queue", "updated_at"])
    transition_record(
        item,
        transition="escalate",
        from_state=item.state,
        source=TransitionSource.TIMER,
        reason=f"SLA breached in the {workflow_policy(item.WORKFLOW).queue_label(previous_queue).lower()} queue",
        at=now,
    )


def _step(item: Any, step: Step, now: datetime) -> None:
    if step.queue is not None:
        item.queue = step.queue
    if step.clock == Clock.START:
        sla_start(item, now=now)
    elif step.clock == Clock.PAUSE:
        sla_pause(item, now=now)
    elif step.clock == Clock.RESUME:
        sla_resume(item, now=now)
    elif step.clock == Clock.HOLD:
        item.sla_paused_at = item.sla_paused_at or now
    elif step.clock == Clock.RUN:
        item.sla_paused_at = None


def _open_set(item: Any, *, closed: bool, now: datetime) -> None:
    if closed and item.is_open:
        item.is_open, item.closed_at = False, now
    elif not closed and not item.is_open:
        item.is_open, item.closed_at = True, None


def _effects(policy: Policy, item: Any, logged: Transition, *, business: tuple[str, str] | None = None) -> None:
    policy.tell_ehr(item, logged, business=business)
    for work in policy.after_commit(item, logged):
        transaction.on_commit(work)
