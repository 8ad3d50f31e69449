"""What a workflow tells the shared worklist about itself: its words, queues, states, the
columns of its rows, who may open it and claim in it, the queues an item may be moved to, and
its safe bulk actions. Each workflow registers one ``WorklistSpec`` in ``AppConfig.ready()``."""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

from apps.core.errors import ConflictError
from apps.core.models import User

from ..sla import SUPERVISOR_QUEUE


@dataclass(frozen=True)
class Column:
    """A workflow's own column: its header and the template of its cell (given ``item`` and ``row``),
    or ``cell(item)``, the cell's HTML written in Python (escaped by it; faster, same markup)."""

    header: str
    template: str = ""
    css: str = ""
    cell: Callable[[Any], str] | None = None


@dataclass(frozen=True)
class BulkAction:
    """A bulk action that is safe to run on many items at once, one service call per item.

    ``run(item_id=…, by=…, reason=…)`` raises ``ApplicationError``/``PermissionDenied`` for an item
    it refuses; ``run_all(item_ids=…, by=…, reason=…)`` instead does all or none (one transaction)."""

    key: str
    label: str  # the button: "Acknowledge normal results"
    done: str  # after "2 results": "acknowledged (reviewed, no follow-up, closed)"
    permission: str  # who is offered it (the service checks again)
    hint: str = ""  # which items it applies to, in plain words
    run: Callable[..., Any] | None = None
    run_all: Callable[..., Any] | None = None


@dataclass(frozen=True)
class WorklistSpec:
    workflow: str  # the work item's WORKFLOW ("referral")
    namespace: str  # the URL namespace of its pages ("referrals")
    title: str  # "Referrals"
    noun: str  # "referral"
    plural: str  # "referrals"
    lede: str  # under the title: what is listed
    permissions: tuple[str, ...]  # any one of them opens the worklist
    work_permission: str  # who claims, and who can be assigned
    queues: tuple[tuple[str, str], ...]  # value, label (every queue the workflow uses)
    states: tuple[tuple[str, str], ...]  # the open states, for the state filter
    columns: tuple[Column, ...] = ()
    # The queues an item may be moved to from its state (its own queue left out by the caller).
    queues_for: Callable[[Any], Iterable[str]] = lambda item: ()
    # "" when the item may be claimed from the worklist, else who acts next (shown instead).
    claim_refusal: Callable[[Any], str] = lambda item: ""
    bulk_actions: tuple[BulkAction, ...] = ()
    head_template: str = ""  # beside the title: e.g. a link to enter an item by hand
    select_related: tuple[str, ...] = ("site", "assignee", "service_line")
    prefetch_related: tuple[str, ...] = ()
    # Sets what the workflow's columns show on each listed item (after prefetch; no query of its own).
    decorate: Callable[[list[Any]], None] = lambda items: None
    extra: dict[str, Any] = field(default_factory=dict)

    def url(self, name: str, *args: Any) -> str:
        return reverse(f"{self.namespace}:{name}", args=args)

    def queue_label(self, queue: str) -> str:
        return dict(self.queues).get(queue, queue.replace("_", " ").capitalize())

    def may_open(self, user: User) -> bool:
        return any(user.has_perm(p) for p in self.permissions)

    def bulk_actions_for(self, user: User) -> list[BulkAction]:
        return [action for action in self.bulk_actions if user.has_perm(action.permission)]

    def may_supervise(self, user: User) -> bool:
        return user.has_perm("core.supervise_queues") and user.has_perm(self.work_permission)


def queues_of_state(queue_for_state: Mapping[Any, str]) -> Callable[[Any], list[str]]:
    """A ``queues_for``: the queue of the item's state, or the supervisor's. A held item stays held
    until its code is mapped, so nothing is moved into an exceptions queue by hand."""

    def queues_for(item: Any) -> list[str]:
        own = queue_for_state.get(item.state)
        return [queue for queue in (own, SUPERVISOR_QUEUE) if queue]

    return queues_for


def state_guarded(model: Any, state: str, run: Callable[[int, Any, str], Any], *, refusal: str, code: str) -> Any:
    """A ``BulkAction.run`` for items in one state: ``run(item_id, by, reason)``, or a conflict
    (``refusal``, e.g. "it is already past triage; open it to see the next step.") for an item
    that has moved on since the list was shown."""

    def guarded(*, item_id: int, by: Any, reason: str = "") -> None:
        if model.objects.filter(pk=item_id).values_list("state", flat=True).first() != state:
            raise ConflictError(refusal, code=code)
        run(item_id, by, reason)

    return guarded


_specs: dict[str, WorklistSpec] = {}


def worklist_register(spec: WorklistSpec) -> None:
    """Make a workflow's worklist known (in its ``AppConfig.ready()``)."""
    _specs[spec.workflow] = spec


def worklist_spec(workflow: str) -> WorklistSpec:
    try:
        return _specs[workflow]
    except KeyError:
        raise LookupError(f"no worklist registered for {workflow!r}") from None


def worklist_specs() -> dict[str, WorklistSpec]:
    return dict(_specs)
