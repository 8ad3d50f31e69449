"""Outreach to the patient, the same for every workflow: record a contact attempt on a work
item (its counter follows) and read an item's attempts. Workflows add their own rules around
``outreach_record`` (intake: the first attempt moves a pending intake to outreach)."""

from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from apps.core.errors import ApplicationError, ConflictError

from .models import OUTREACH_FAILED, Outreach, OutreachChannel, OutreachOutcome
from .permissions import ensure_can
from .registry import workflow_model

NOTE_MAX = Outreach._meta.get_field("note").max_length


@transaction.atomic
def outreach_record(*, workflow: str, item_id: int, by: Any, channel: str, outcome: str, note: str = "") -> Outreach:
    """Record a contact attempt with the patient on an open item and count it on the item (locked)."""
    model = workflow_model(workflow)
    item = model.objects.select_for_update(of=("self",)).select_related("site").get(pk=item_id)
    ensure_can(by, item, "work")
    noun = model._meta.verbose_name
    if not item.is_open:
        raise ConflictError(f"This {noun} is closed.", code="closed")
    if not hasattr(item, "outreach_attempts"):
        raise ApplicationError(f"Outreach is not recorded on a {noun}.", code="no_outreach")
    if channel not in OutreachChannel.values or outcome not in OutreachOutcome.values:
        wrong = "channel" if channel not in OutreachChannel.values else "outcome"
        raise ApplicationError(f"Choose a channel and an outcome (the {wrong} is missing or unknown).",
                               code="invalid_outreach")  # fmt: skip
    attempt = Outreach.objects.create(
        workflow=workflow, item_id=item.pk, site_id=item.site_id, channel=channel, outcome=outcome, by=by,
        note=note[:NOTE_MAX],
    )  # fmt: skip
    item.outreach_attempts += 1
    item.save(update_fields=["outreach_attempts", "updated_at"])
    return attempt


def outreach_list(*, workflow: str, item_id: int) -> QuerySet[Outreach]:
    """An item's contact attempts, oldest first, with who made them."""
    return Outreach.objects.filter(workflow=workflow, item_id=item_id).select_related("by")


def outreach_failed_count(*, workflow: str, item_id: int) -> int:
    """How many of an item's contact attempts did not reach the patient."""
    return Outreach.objects.filter(workflow=workflow, item_id=item_id, outcome__in=OUTREACH_FAILED).count()
