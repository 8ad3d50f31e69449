"""Results follow-up use cases of the staff: lock, check, transition through the workflow engine
(which saves and logs), return. EHR events are ``ehr.py``'s; the SLA breach ``escalation.py``'s."""

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.core.errors import ApplicationError, ConflictError
from apps.core.models import User
from apps.core.scoping import site_ids_for
from apps.workflow.transitions import item_lock, transition_apply, transition_record

from ..models import Coverage, ResultItem
from ..permissions import REVIEW, WORK, ensure
from ..workflow import (
    EXCEPTIONS_QUEUE,
    NEEDS_SCHEDULING,
    PRIORITY_FOR,
    QUEUE_FOR_STATE,
    TO_REVIEW,
    Criticality,
    FollowUp,
    NotifyMethod,
)


def _review(item: ResultItem, by: User, follow_up: str, note: str) -> None:
    if item.state not in TO_REVIEW:
        raise ConflictError(f"This result is already {item.get_state_display().lower()}.", code="already_reviewed")
    item.reviewed_at, item.reviewed_by = timezone.now(), by
    item.assignee, item.claimed_at = None, None  # the MAs' worklist picks the next step up
    reason = f"Follow-up: {FollowUp(follow_up).label}" + (f". {note}" if note else "")
    transition_apply(item, "review", by=by, reason=reason, follow_up=follow_up, note=note)
    if follow_up == FollowUp.NONE:
        transition_apply(item, "close", by=by, reason="No follow-up needed")


@transaction.atomic
def result_review(*, item_id: int, by: User, follow_up: str, note: str = "") -> ResultItem:
    """A clinician reviews a result and decides the follow-up; "none" closes it at once."""
    if follow_up not in FollowUp.values:
        raise ApplicationError("Choose the follow-up: none, notify only, repeat test or appointment.",
                               code="follow_up_required")  # fmt: skip
    note = note.strip()
    if follow_up in NEEDS_SCHEDULING and not note:
        raise ApplicationError("Say what to book (which test, when) for the MA.", code="note_required")
    item = item_lock(ResultItem.WORKFLOW, item_id)
    ensure(by, item, REVIEW)
    _review(item, by, follow_up, note)
    return item


@transaction.atomic
def results_acknowledge(*, item_ids: Iterable[int], by: User, note: str = "") -> list[ResultItem]:
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
def result_notify(*, item_id: int, by: User, method: str, note: str = "") -> ResultItem:
    """Record how the patient was told; closes the item unless a follow-up is still to book."""
    if method not in NotifyMethod.values:
        raise ApplicationError("Say how the patient was told.", code="method_required")
    item = item_lock(ResultItem.WORKFLOW, item_id)
    ensure(by, item, WORK)
    item.notified_at = timezone.now()
    told = f"Told by {NotifyMethod(method).label.lower()}" + (f": {note.strip()}" if note.strip() else "")
    transition_apply(item, "notify", by=by, how=method, reason=told)
    if item.follow_up not in NEEDS_SCHEDULING:
        transition_apply(item, "close", by=by, reason="Patient told; no follow-up to book")
    return item


@transaction.atomic
def result_schedule_follow_up(*, item_id: int, by: User, note: str) -> ResultItem:
    """The repeat test or appointment is booked (say what and when)."""
    if not note.strip():
        raise ApplicationError("Say what was booked and when.", code="note_required")
    item = item_lock(ResultItem.WORKFLOW, item_id)
    ensure(by, item, WORK)
    transition_apply(item, "schedule_follow_up", by=by, reason=note.strip())
    return item


@transaction.atomic
def result_close(*, item_id: int, by: User, note: str = "") -> ResultItem:
    """Close a result whose steps are done."""
    item = item_lock(ResultItem.WORKFLOW, item_id)
    ensure(by, item, WORK)
    transition_apply(item, "close", by=by, reason=note.strip())
    return item


@transaction.atomic
def result_take(*, item_id: int, by: User) -> ResultItem:
    """A clinician takes a result from the unassigned pool (or a colleague's inbox) to review it."""
    item = item_lock(ResultItem.WORKFLOW, item_id)
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
def result_reassign(*, item_id: int, to_id: int, by: User, reason: str = "") -> ResultItem:
    """A supervisor gives a result waiting for review to a clinician of its site."""
    item = item_lock(ResultItem.WORKFLOW, item_id)
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
def coverage_set(*, by: User, covered_by_id: int, starts_at: datetime, ends_at: datetime, note: str = "") -> Coverage:
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
def coverage_cancel(*, coverage_id: int, by: User) -> Coverage:
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
    item.set_priority(PRIORITY_FOR[Criticality(criticality)])
    return True
