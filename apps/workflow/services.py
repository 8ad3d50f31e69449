"""Writes shared by every workflow: claims, reassignment, queue moves, notes and the SLA sweep
(each workflow escalates its own way, through its policy). Each use case locks the item row
first. State changes and the transition log are ``transitions.py``'s."""

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core.errors import ConflictError
from apps.core.models import User

from .announce import sla_warning_announce
from .models import Note, SavedView, WorkItem
from .permissions import ensure_can
from .registry import workflow_models, workflow_policy
from .transitions import item_lock, item_requeue, transition_record

logger = logging.getLogger(__name__)


@transaction.atomic
def item_claim(*, workflow: str, item_id: int, by: User) -> WorkItem:
    """Take an item. When someone else has it, say who (exactly one of two claimers wins)."""
    item = item_lock(workflow, item_id)
    ensure_can(by, item, "claim")
    if item.assignee_id == by.pk:
        return item
    if item.assignee_id is not None:
        raise ConflictError(
            f"{item.assignee} claimed this item at {timezone.localtime(item.claimed_at):%H:%M}.",
            code="already_claimed",
            extra={"claimed_by": str(item.assignee)},
        )
    item.assignee, item.claimed_at = by, timezone.now()
    item.save(update_fields=["assignee", "claimed_at", "updated_at"])
    transition_record(item, transition="claim", from_state=item.state, by=by)
    return item


@transaction.atomic
def item_release(*, workflow: str, item_id: int, by: User) -> WorkItem:
    """Give an item back to its queue (its holder, or a supervisor)."""
    item = item_lock(workflow, item_id)
    ensure_can(by, item, "claim" if item.assignee_id == by.pk else "reassign")
    if item.assignee_id is None:
        return item
    item.assignee, item.claimed_at = None, None
    item.save(update_fields=["assignee", "claimed_at", "updated_at"])
    transition_record(item, transition="release", from_state=item.state, by=by)
    return item


@transaction.atomic
def item_reassign(*, workflow: str, item_id: int, to: User | None, by: User, reason: str = "") -> WorkItem:
    """A supervisor gives an item to someone who works that queue at that site."""
    item = item_lock(workflow, item_id)
    ensure_can(by, item, "reassign")
    if to is not None:
        ensure_can(to, item, "claim")
    item.assignee, item.claimed_at = to, timezone.now() if to else None
    item.save(update_fields=["assignee", "claimed_at", "updated_at"])
    transition_record(item, transition="reassign", from_state=item.state, by=by, reason=reason)
    return item


@transaction.atomic
def item_move(*, workflow: str, item_id: int, queue: str, by: User, reason: str = "") -> WorkItem:
    """A supervisor moves an open item to a queue that fits its state; its due time stays (moving
    an overdue item does not make it on time)."""
    item = item_lock(workflow, item_id)
    ensure_can(by, item, "move")
    if item.queue == queue:
        return item
    policy = workflow_policy(workflow)
    if not item.is_open:
        raise ConflictError(f"This {policy.noun} is closed; it cannot be moved.", code="closed")
    fits = policy.queues_for(item)
    if fits is not None and queue not in fits:
        state = item.get_state_display().lower()
        where = " or ".join(f"“{policy.queue_label(q)}”" for q in sorted(fits, key=policy.queue_label))
        raise ConflictError(
            f"This {policy.noun} is {state}: it belongs in {where}, not “{policy.queue_label(queue)}”.",
            code="queue_does_not_fit",
        )
    item_requeue(item, queue=queue, transition="move", by=by, reason=reason, fresh_clock=False)
    return item


@transaction.atomic
def note_add(*, workflow: str, item_id: int, text: str, by: User) -> Note:
    """Add a note to an item's timeline."""
    from apps.core.errors import ApplicationError

    item = item_lock(workflow, item_id)
    ensure_can(by, item, "note")
    if not text.strip():
        raise ApplicationError("A note needs some text.", code="empty_note")
    return Note.objects.create(workflow=workflow, item_id=item.pk, site_id=item.site_id, author=by, text=text.strip())


def sla_sweep(*, now: datetime | None = None) -> int:
    """Escalate open items past their due time to the supervisor queue (once each)."""
    now = now or timezone.now()
    escalated = 0
    for model in workflow_models().values():
        due = model.objects.filter(
            is_open=True, escalated_at__isnull=True, sla_paused_at__isnull=True, due_at__lte=now
        ).values_list("pk", flat=True)[:1000]
        for item_id in due:
            with transaction.atomic():
                item = model.objects.select_for_update(skip_locked=True).filter(pk=item_id).first()
                if item is None or item.escalated_at or not item.is_open or item.due_at > now:
                    continue
                workflow_policy(model.WORKFLOW).escalate(item, now)
                escalated += 1
    if escalated:
        logger.info("sla: escalated %d item(s)", escalated)
    sla_warn(now=now)
    return escalated


def sla_warn(*, now: datetime) -> None:
    """Warn the assignees of open, running items past their warning time and not yet due (the
    notifications collapse the repeats of each sweep: one warning per item and due time)."""
    for model in workflow_models().values():
        near = model.objects.filter(
            is_open=True, escalated_at__isnull=True, sla_paused_at__isnull=True, assignee__isnull=False,
            warn_at__lte=now, due_at__gt=now,
        ).only("pk", "site_id", "assignee_id", "priority", "due_at")[:1000]  # fmt: skip
        for item in near:
            sla_warning_announce(item)


@transaction.atomic
def saved_view_save(*, workflow: str, name: str, params: dict[str, Any], by: User) -> SavedView:
    """Save the user's worklist filters under a name (the same name again overwrites them)."""
    from apps.core.errors import ApplicationError

    name = name.strip()[:60]
    if not name:
        raise ApplicationError("Give the view a name.", code="name_required")
    view, _ = SavedView.objects.update_or_create(user=by, workflow=workflow, name=name, defaults={"params": params})
    return view


@transaction.atomic
def saved_view_delete(*, view_id: int, by: User) -> None:
    """Delete one of the user's own saved views; someone else's is left alone."""
    SavedView.objects.filter(pk=view_id, user=by).delete()


@transaction.atomic
def sla_policies_load(*, path: Any = None) -> int:
    """Create or update the SLA policies of the reference data (fixtures/workflow_sla_policies.json)."""
    import json
    from pathlib import Path

    from django.conf import settings

    from .models import SlaPolicy

    rows = json.loads(Path(path or Path(settings.BASE_DIR) / "fixtures" / "workflow_sla_policies.json").read_text())
    for row in rows:
        SlaPolicy.objects.update_or_create(
            workflow=row["workflow"],
            queue=row["queue"],
            priority=row["priority"],
            defaults={k: row[k] for k in ("target_minutes", "business_hours", "warn_percent")},
        )
    return len(rows)


@transaction.atomic
def work_items_patient_move(old_ref: str, new_ref: str) -> int:
    """The EHR merged patient ``old_ref`` into ``new_ref``: every workflow's items follow (their
    state and history unchanged); idempotent. Returns how many items moved."""
    moved = 0
    for model in workflow_models().values():
        for item in model.objects.select_for_update().filter(patient_ref=old_ref):
            item.patient_ref = new_ref
            item.save(update_fields=["patient_ref", "updated_at"])
            moved += 1
    if moved:
        logger.info("workflow: %d work item(s) moved to the surviving patient record", moved)
    return moved
