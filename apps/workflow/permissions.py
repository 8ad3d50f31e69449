"""Who may do what to a work item: role (permission) and site, checked in every service."""

from typing import Any

from django.core.exceptions import PermissionDenied

from apps.core.scoping import site_ids_for

from .models import WorkItem

SUPERVISOR_ACTIONS = frozenset({"reassign", "move", "bulk"})


def can(user: Any, item: WorkItem, action: str) -> bool:
    if not getattr(user, "is_authenticated", False) or item.site_id not in site_ids_for(user):
        return False
    if action in SUPERVISOR_ACTIONS:
        return user.has_perm("core.supervise_queues")
    return bool(item.WORK_PERMISSION) and user.has_perm(item.WORK_PERMISSION)


def ensure_can(user: Any, item: WorkItem, action: str) -> None:
    """Raise PermissionDenied (HTTP 403) with a reason a person can act on."""
    if can(user, item, action):
        return
    if item.site_id not in site_ids_for(user):
        raise PermissionDenied("This item belongs to a site you are not a member of.")
    if action in SUPERVISOR_ACTIONS:
        raise PermissionDenied("Only a supervisor can do that.")
    raise PermissionDenied("Your role does not work this queue.")
