"""Results follow-up use cases: lock, check, transition, save, log, return. EHR events arrive
through ``handlers.py``; the SLA breach through ``escalation.py``."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from apps.core.errors import ApplicationError, ConflictError
from apps.core.scoping import site_ids_for
from apps.workflow.models import TransitionSource
from apps.workflow.services import transition_record
from apps.workflow.sla import sla_start

from .models import Coverage, ResultItem
from .permissions import REVIEW, WORK, ensure
from .workflow import (
    CLOSED_STATES,
    EXCEPTIONS_QUEUE,
    NEEDS_SCHEDULING,
    PRIORITY_FOR,
    QUEUE_FOR_STATE,
    TO_REVIEW,
    Criticality,
    FollowUp,
    NotifyMethod,
    State,
)


def apply_transition(
    item: ResultItem,
    name: str,
    *,
    by: Any = None,
    source: str = TransitionSource.STAFF,
    reason: str = "",
    correlation_id: str = "",
    **kwargs: Any,
) -> None:
    """Fire a transition on a locked item; set queue, SLA and open/closed; save; log it."""
    method = getattr(item, name)
    if not can_proceed(method):
        raise ConflictError(
            f"This result is {item.get_state_display().lower()}; it cannot be '{name.replace('_', ' ')}' now.",
            code="transition_not_allowed",
        )
    from_state = item.state
    method(**kwargs)
    now = timezone.now()
    if item.state in CLOSED_STATES:
        item.is_open, item.closed_at = False, now
    else:
        item.is_open, item.closed_at = True, None
        queue = QUEUE_FOR_STATE[item.state]
        if item.state == State.NEW and item.exception_reason:
            queue = EXCEPTIONS_QUEUE
        if queue != item.queue or from_state in CLOSED_STATES or item.state == State.NEW:
            item.queue = queue
            sla_start(item, now=now)
    item.save()
    transition_record(
        item, transition=name, from_state=from_state, by=by, source=source, reason=reason,
        correlation_id=correlation_id,
    )  # fmt: skip


def _locked(item_id: int) -> ResultItem:
    return ResultItem.objects.select_for_update(of=("self",)).select_related("site").get(pk=item_id)


def _review(item: ResultItem, by: Any, follow_up: str, note: str) -> None:
    if item.state not in TO_REVIEW:
        raise ConflictError(f"This result is already {item.get_state_display().lower()}.", code="already_reviewed")
    item.reviewed_at, item.reviewed_by = timezone.now(), by
    item.assignee, item.claimed_at = None, None  # the MAs' worklist picks the next step up
    reason = f"Follow-up: {FollowUp(follow_up).label}" + (f". {note}" if note else "")
    apply_transition(item, "review", by=by, reason=reason, follow_up=follow_up, note=note)
    if follow_up == FollowUp.NONE:
        apply_transition(item, "close", by=by, reason="No follow-up needed")


@transaction.atomic
def result_review(*, item_id: int, by: Any, follow_up: str, note: str = "") -> ResultItem:
    """A clinician reviews a result and decides the follow-up; "none" closes it at once."""
    if follow_up not in FollowUp.values:
        raise ApplicationError("Choose the follow-up: none, notify only, repeat test or appointment.",
                               code="follow_up_required")  # fmt: skip
    note = note.strip()
    if follow_up in NEEDS_SCHEDULING and not note:
        raise ApplicationError("Say what to book (which test, when) for the MA.", code="note_required")
    item = _locked(item_id)
    ensure(by, item, REVIEW)
    _review(item, by, follow_up, note)
    return item


@transaction.atomic
def results_acknowledge(*, item_ids: Iterable[int], by: Any, note: str = "") -> list[ResultItem]:
    """Acknowledge several normal results at once (reviewed, no follow-up, closed); all or none."""
    ids = sorted({int(i) for i in item_ids})
    if not ids:
        raise ApplicationError("Select the normal results to acknowledge.", code="nothing_selected")
    items = list(ResultItem.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk"))
    if len(items) != len(ids):
        raise ApplicationError("Some of the selected results no longer exist.", code="unknown_items")
    for item in items:
        ensure(by, item, REVIEW)
    refused = [item.pk for item in items if item.criticality != Criticality.NORMAL or item.state not in TO_REVIEW]
    if refused:
        raise ConflictError(
            "Only normal results waiting for review can be acknowledged together; review "
            f"#{', #'.join(map(str, refused))} one by one.",
            code="not_normal",
        )
    for item in items:
        _review(item, by, FollowUp.NONE, note.strip() or "Acknowledged with other normal results")
    return items


@transaction.atomic
def result_notify(*, item_id: int, by: Any, method: str, note: str = "") -> ResultItem:
    """Record how the patient was told; closes the item unless a follow-up is still to book."""
    if method not in NotifyMethod.values:
        raise ApplicationError("Say how the patient was told.", code="method_required")
    item = _locked(item_id)
    ensure(by, item, WORK)
    item.notified_at = timezone.now()
    told = f"Told by {NotifyMethod(method).label.lower()}" + (f": {note.strip()}" if note.strip() else "")
    apply_transition(item, "notify", by=by, how=method, reason=told)
    if item.follow_up not in NEEDS_SCHEDULING:
        apply_transition(item, "close", by=by, reason="Patient told; no follow-up to book")
    return item


@transaction.atomic
def result_schedule_follow_up(*, item_id: int, by: Any, note: str) -> ResultItem:
    """The repeat test or appointment is booked (say what and when)."""
    if not note.strip():
        raise ApplicationError("Say what was booked and when.", code="note_required")
    item = _locked(item_id)
    ensure(by, item, WORK)
    apply_transition(item, "schedule_follow_up", by=by, reason=note.strip())
    return item


@transaction.atomic
def result_close(*, item_id: int, by: Any, note: str = "") -> ResultItem:
    """Close a result whose steps are done."""
    item = _locked(item_id)
    ensure(by, item, WORK)
    apply_transition(item, "close", by=by, reason=note.strip())
    return item


@transaction.atomic
def result_take(*, item_id: int, by: Any) -> ResultItem:
    """A clinician takes a result from the unassigned pool (or a colleague's inbox) to review it."""
    item = _locked(item_id)
    ensure(by, item, REVIEW)
    if item.state not in TO_REVIEW:
        raise ConflictError("This result is no longer waiting for review.", code="already_reviewed")
    if item.assignee_id == by.pk:
        return item
    previous = item.assignee
    item.assignee, item.claimed_at = by, timezone.now()
    item.save(update_fields=["assignee", "claimed_at", "updated_at"])
    transition_record(item, transition="claim", from_state=item.state, by=by,
                      reason=f"Taken from {previous}" if previous else "Taken from the unassigned pool")  # fmt: skip
    return item


@transaction.atomic
def result_reassign(*, item_id: int, to_id: int, by: Any, reason: str = "") -> ResultItem:
    """A supervisor gives a result waiting for review to a clinician of its site."""
    item = _locked(item_id)
    ensure(by, item, WORK)
    if not by.has_perm("core.supervise_queues"):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("Only a supervisor can do that.")
    to = get_user_model().objects.filter(pk=to_id, is_active=True).first()
    if to is None or item.site_id not in site_ids_for(to) or not to.has_perm(REVIEW):
        raise ApplicationError("Choose a clinician of this site.", code="not_a_clinician")
    if item.state not in TO_REVIEW:
        raise ConflictError("This result is no longer waiting for review.", code="already_reviewed")
    item.assignee, item.claimed_at = to, timezone.now()
    item.queue = QUEUE_FOR_STATE[item.state] if item.queue != EXCEPTIONS_QUEUE else item.queue
    item.save(update_fields=["assignee", "claimed_at", "queue", "updated_at"])
    transition_record(item, transition="reassign", from_state=item.state, by=by, reason=reason or f"To {to}")
    return item


@transaction.atomic
def coverage_set(*, by: Any, covered_by_id: int, starts_at: datetime, ends_at: datetime, note: str = "") -> Coverage:
    """A clinician names who covers their inbox from ``starts_at`` to ``ends_at``."""
    if not by.has_perm(REVIEW):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("Only a clinician has a results inbox to cover.")
    if ends_at <= starts_at:
        raise ApplicationError("The cover must end after it starts.", code="bad_period")
    if ends_at <= timezone.now():
        raise ApplicationError("That period is already over.", code="bad_period")
    colleague = get_user_model().objects.filter(pk=covered_by_id, is_active=True).first()
    if colleague is None or colleague.pk == by.pk or not colleague.has_perm(REVIEW):
        raise ApplicationError("Choose another clinician to cover you.", code="not_a_clinician")
    if not site_ids_for(colleague) & site_ids_for(by):
        raise ApplicationError("Choose a clinician who works at one of your sites.", code="no_shared_site")
    return Coverage.objects.create(
        clinician=by, covered_by=colleague, starts_at=starts_at, ends_at=ends_at, note=note.strip()[:300]
    )


@transaction.atomic
def coverage_cancel(*, coverage_id: int, by: Any) -> Coverage:
    """End one of the clinician's own coverages now (it is kept, marked cancelled)."""
    coverage = Coverage.objects.select_for_update().filter(pk=coverage_id, clinician=by).first()
    if coverage is None:
        raise ApplicationError("No such coverage of yours.", code="unknown_coverage")
    coverage.cancelled_at = coverage.cancelled_at or timezone.now()
    coverage.save(update_fields=["cancelled_at"])
    return coverage


def criticality_set(item: ResultItem, criticality: str) -> bool:
    """Set criticality and its priority (fields only); True when it changed."""
    if item.criticality == criticality:
        return False
    item.criticality = criticality
    item.set_priority(PRIORITY_FOR[criticality])
    return True


def results_reinterpret_held(system: str, codes: frozenset[str]) -> int:
    """A mapping became active: re-read the criticality of the results held for those codes and
    take them out of the exceptions queue (called after the activating transaction commits)."""
    from .handlers import interpretation_for

    held = ResultItem.objects.filter(is_open=True, queue=EXCEPTIONS_QUEUE)
    moved = 0
    for item_id in held.values_list("pk", flat=True):
        with transaction.atomic():
            item = _locked(item_id)
            if item.queue != EXCEPTIONS_QUEUE or not any(
                c.partition("|")[0] == system for c in item.interpretation_codes.split(",")
            ):
                continue
            found = interpretation_for(item)
            if found.held:
                continue
            criticality_set(item, found.criticality)
            item.criticality_note, item.exception_reason = found.note[:300], ""
            item.queue = QUEUE_FOR_STATE.get(item.state, item.queue)
            sla_start(item)
            item.save()
            transition_record(item, transition="interpret", from_state=item.state, source=TransitionSource.SYSTEM,
                              reason=f"Interpretation now maps: {item.get_criticality_display()}")  # fmt: skip
            moved += 1
    return moved
