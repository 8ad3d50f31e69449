"""Hand-made work-item histories for the governance tests: transition-log rows written directly."""

from datetime import UTC, datetime, timedelta
from typing import Any

from apps.workflow.models import Transition

T0 = datetime(2026, 3, 4, 15, tzinfo=UTC)  # a Wednesday, 10:00 in New York
SINCE, UNTIL = T0 - timedelta(days=10), T0 + timedelta(days=10)


def log(item: Any, name: str, to_state: str, at: datetime, *, source: str = "staff", role: str = "scheduler") -> None:
    """One log entry of ``item`` (a referral, intake or result)."""
    Transition.objects.create(
        workflow=item.WORKFLOW, item_id=item.pk, site_id=item.site_id, service_line_id=item.service_line_id,
        transition=name, from_state="", to_state=to_state, source=source, at=at,
        actor_role=role if source == "staff" else "",
    )  # fmt: skip


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)
