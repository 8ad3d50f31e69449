"""Who may do what in governance: pure checks over the user's role and sites.

Supervisors and leaders (``core.view_aggregates``) name owners and move the rollout switch at their
own sites. A friction report is seen by its reporter, and handled by the owners of any workflow at
its site and by that site's supervisors (who act while no owner is named)."""

from typing import Any

from apps.core.scoping import site_ids_for

MANAGE = "core.view_aggregates"
SUPERVISE = "core.supervise_queues"


def may_manage(user: Any, site_id: int) -> bool:
    """Name owners, capture a baseline and change the rollout phase at this site."""
    return bool(getattr(user, "is_authenticated", False) and user.has_perm(MANAGE) and site_id in site_ids_for(user))
