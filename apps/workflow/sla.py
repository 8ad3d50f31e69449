"""SLA clocks: a due time from the policy, counted in the site's business hours; paused while
the item waits on someone outside; warned before, escalated to the supervisor queue after."""

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.utils import timezone

from apps.core.models import Site

from .calendar import BusinessCalendar, WallClock, parse_hours
from .models import Holiday, SiteCalendar, SlaPolicy, WorkItem

DEFAULT_TARGET_MINUTES = 5 * 9 * 60  # a business week, when no policy matches
SUPERVISOR_QUEUE = "supervisor"


def policy_for(workflow: str, queue: str, priority: str) -> SlaPolicy:
    """The most specific policy: queue and priority, then queue, then priority, then neither."""
    candidates = SlaPolicy.objects.filter(workflow=workflow, queue__in=[queue, ""], priority__in=[priority, ""])
    best = max(candidates, key=lambda p: (p.queue == queue, p.priority == priority), default=None)
    return best or SlaPolicy(workflow=workflow, target_minutes=DEFAULT_TARGET_MINUTES, business_hours=True)


@lru_cache(maxsize=256)
def _calendar(site_id: int, tz: str, hours_key: str, holidays: frozenset) -> BusinessCalendar:
    import json

    return BusinessCalendar(tz=ZoneInfo(tz), hours=parse_hours(json.loads(hours_key)), holidays=holidays)


def calendar_for(site: Site) -> BusinessCalendar:
    import json

    hours = SiteCalendar.objects.filter(site=site).values_list("hours", flat=True).first()
    holidays = frozenset(Holiday.objects.filter(site=site).values_list("date", flat=True))
    return _calendar(site.pk, site.timezone, json.dumps(hours or _default_hours(), sort_keys=True), holidays)


def _default_hours() -> dict:
    from .calendar import DEFAULT_HOURS

    return DEFAULT_HOURS


def clock_for(item: WorkItem, policy: SlaPolicy) -> BusinessCalendar | WallClock:
    return calendar_for(item.site) if policy.business_hours else WallClock()


def sla_start(item: WorkItem, *, now: datetime | None = None) -> None:
    """Set the due and warning times of an item entering a queue (fields only; caller saves)."""
    now = now or timezone.now()
    policy = policy_for(item.WORKFLOW, item.queue, item.priority)
    clock = clock_for(item, policy)
    item.due_at = clock.add_minutes(now, policy.target_minutes)
    item.warn_at = clock.add_minutes(now, policy.target_minutes * policy.warn_percent / 100)
    item.sla_paused_at, item.sla_remaining_minutes, item.escalated_at = None, None, None


def sla_pause(item: WorkItem, *, now: datetime | None = None) -> None:
    """Stop the clock (waiting on the referrer or the patient); remember what was left."""
    if item.sla_paused_at:
        return
    now = now or timezone.now()
    policy = policy_for(item.WORKFLOW, item.queue, item.priority)
    item.sla_remaining_minutes = clock_for(item, policy).minutes_between(now, item.due_at)
    item.sla_paused_at = now


def sla_resume(item: WorkItem, *, now: datetime | None = None) -> None:
    """Restart the clock with the time that was left when it stopped."""
    if not item.sla_paused_at:
        return
    now = now or timezone.now()
    policy = policy_for(item.WORKFLOW, item.queue, item.priority)
    clock = clock_for(item, policy)
    remaining = item.sla_remaining_minutes or 0.0
    warn_left = max(remaining - policy.target_minutes * (100 - policy.warn_percent) / 100, 0.0)
    item.due_at = clock.add_minutes(now, remaining)
    item.warn_at = clock.add_minutes(now, warn_left)
    item.sla_paused_at, item.sla_remaining_minutes = None, None


def sla_status(item: WorkItem, *, now: datetime | None = None) -> str:
    """``paused``, ``overdue``, ``due_soon`` or ``on_track`` — shown as text in worklists."""
    now = now or timezone.now()
    if item.sla_paused_at:
        return "paused"
    if item.due_at <= now:
        return "overdue"
    if item.warn_at <= now:
        return "due_soon"
    return "on_track"
