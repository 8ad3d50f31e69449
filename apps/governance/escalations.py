"""Support escalations go to the owners too: when an item is escalated to a site's supervisor
queue, the workflow's "support escalation" owner at that site is told as well (the same event key,
so an owner who is also a supervisor there hears it once)."""

from dataclasses import replace

from apps.core.events import EventKind, StaffEvent, event_emit
from apps.core.roles import Role

from .models import Duty, WorkflowOwner


def escalation_forward(event: StaffEvent) -> None:
    """A listener (apps.core.events): forward supervisor-queue escalations to the support owner."""
    workflow = event.extra.get("workflow", "")
    if event.kind != EventKind.ITEM_ESCALATED or event.role != Role.SUPERVISOR or not workflow or not event.site_id:
        return
    owners = WorkflowOwner.objects.filter(
        site_id=event.site_id, workflow=workflow, duty=Duty.SUPPORT, user__is_active=True
    ).values_list("user_id", flat=True)
    if owners:
        event_emit(replace(event, role="", user_ids=tuple(owners)))
