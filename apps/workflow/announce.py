"""What the people who work items hear of them (apps.core.events): an item given or escalated to
someone, an SLA about to run out on someone's item. Called from the one place every change is
logged (``transition_record``) and from the SLA sweep; nothing here knows how people are told."""

from typing import Any

from django.urls import NoReverseMatch, reverse

from apps.core.events import EventKind, StaffEvent, event_emit
from apps.core.roles import Role

from .models import Priority, Transition
from .registry import workflow_policy
from .sla import SUPERVISOR_QUEUE

# Transitions that hand an item to its assignee (besides an item opened with one).
HANDING = frozenset({"reassign", "escalate", "reopen"})


def _link(item: Any) -> str:
    try:
        return reverse(f"{item._meta.app_label}:detail", args=[item.pk])
    except NoReverseMatch:
        return ""


def _what(item: Any) -> str:
    noun = workflow_policy(item.WORKFLOW).noun
    if item.priority == Priority.STAT:
        return f"A critical {noun}" if noun == "result" else f"A STAT {noun}"
    if item.priority in (Priority.ASAP, Priority.URGENT):
        return f"An urgent {noun}"
    return f"A{'n' if noun[:1] in 'aeiou' else ''} {noun}"


def transition_announce(item: Any, logged: Transition) -> None:
    """Tell the site's supervisors when an item was escalated to their queue, else the assignee
    when it is now theirs (given, reopened, escalated to them). Whoever did it is not told."""
    critical = item.priority == Priority.STAT
    # One per hand-over: a twin of the same minute is a repeat, a later escalation is news.
    key = f"{item.WORKFLOW}:{item.pk}:{logged.transition}:{item.assignee_id or ''}:{logged.at:%Y%m%d%H%M}"
    escalated = logged.transition == "escalate"
    kind = EventKind.ITEM_ESCALATED if escalated else EventKind.ITEM_ASSIGNED
    exclude = (logged.actor_id,) if logged.actor_id else ()
    if escalated and item.queue == SUPERVISOR_QUEUE:
        event_emit(
            StaffEvent(
                kind=kind, title=f"{_what(item)} was escalated to the supervisor queue", link=_link(item),
                role=Role.SUPERVISOR, site_id=item.site_id, exclude_user_ids=exclude, critical=critical,
                dedupe_key=key, extra={"workflow": item.WORKFLOW},
            )
        )  # fmt: skip
    elif item.assignee_id and (logged.transition in HANDING or not logged.from_state):
        event_emit(
            StaffEvent(
                kind=kind, title=f"{_what(item)} was {'escalated' if escalated else 'given'} to you",
                link=_link(item), user_ids=(item.assignee_id,), exclude_user_ids=exclude,
                critical=critical, dedupe_key=key,
            )
        )  # fmt: skip


def sla_warning_announce(item: Any) -> None:
    """Tell the assignee their item is near its due time (once per due time: the key carries it)."""
    if not item.assignee_id:
        return
    event_emit(
        StaffEvent(
            kind=EventKind.SLA_WARNING, title=f"{_what(item)} of yours is near its due time",
            link=_link(item), user_ids=(item.assignee_id,), critical=item.priority == Priority.STAT,
            dedupe_key=f"{item.WORKFLOW}:{item.pk}:sla:{item.due_at:%Y%m%d%H%M}",
        )
    )  # fmt: skip
