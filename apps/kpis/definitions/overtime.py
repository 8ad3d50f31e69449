"""Overtime (money and capacity): staff time spent beyond the hours a site has staffed.

Per site and per week of the period (the scorecard's weeks, from its first day): time spent is
the standard minutes of every staff action logged that week (as the staff hours tile counts
them) plus every contact attempt at its channel's minutes (as the outreach time tiles); staffed
is the figure the site's leaders entered for the calendar week (Monday to Sunday) that the
week's first day falls in, else their standing weekly figure; a short last week counts its
share of it. Overtime is what was spent beyond staffed, never below zero; sites without a
figure are left out (the tile says how many site-weeks it rests on). Its cost is the overtime
at the site's cost per staff hour. Against a baseline, the difference is the overtime avoided."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection

from apps.workflow.selectors import OUTREACH_SQL, TRANSITION_LOG_SQL

from ..sql import format_sql, week_of
from . import Group, Kind, Kpi, capacity, kpi_register, money

HOUR = 3600.0


def _spent_seconds(scope: Any) -> dict[tuple[int, int], float]:
    """(site id, week of the period) → staff seconds spent, from the log and the outreach attempts."""
    from ..engine import bounds_cte

    cte, params = bounds_cte(scope)
    sql = (
        f"WITH {cte} "  # noqa: S608 - SQL from KPI definitions; values are parameters
        f"SELECT x.site_id, {week_of('x.at', 'b.lo')}, 60.0 * {money._minutes_case()} "
        f"FROM {TRANSITION_LOG_SQL} x JOIN bounds b ON b.site_id = x.site_id "
        f"WHERE x.at >= b.lo AND x.at < b.hi GROUP BY x.site_id, {week_of('x.at', 'b.lo')} "
        f"UNION ALL SELECT o.site_id, {week_of('o.at', 'ob.lo')}, SUM(60.0 * ({capacity._channel_minutes()})) "
        f"FROM {OUTREACH_SQL} o JOIN bounds ob ON ob.site_id = o.site_id "
        f"WHERE o.at >= ob.lo AND o.at < ob.hi GROUP BY o.site_id, {week_of('o.at', 'ob.lo')}"
    )
    spent: dict[tuple[int, int], float] = defaultdict(float)
    with connection.cursor() as cursor:
        cursor.execute(format_sql(sql), params)
        for site_id, week, seconds in cursor.fetchall():
            spent[(int(site_id), int(week))] += float(seconds or 0)
    return spent


def staffed_hours(site_id: int, day: date, figures: dict[tuple[int, date | None], float]) -> float | None:
    """The staffed hours of the calendar week ``day`` falls in: its own figure, else the standing one."""
    monday = day - timedelta(days=day.weekday())
    return figures.get((site_id, monday), figures.get((site_id, None)))


def overtime_weeks(scope: Any) -> dict[tuple[int, int], float]:
    """(site id, week) → overtime hours, for the site-weeks with a staffed figure."""
    from ..models import StaffedHours

    figures = {(s.site_id, s.week_start): s.hours for s in StaffedHours.objects.filter(site__in=scope.sites)}
    if not figures:
        return {}
    spent = _spent_seconds(scope)
    days = (scope.end - scope.start).days + 1
    out = {}
    for site in scope.sites:
        for week in range(scope.weeks):
            first = scope.start + timedelta(days=7 * week)
            staffed = staffed_hours(site.id, first, figures)
            if staffed is None:
                continue
            share = min(7, days - 7 * week) / 7  # a short last week
            out[(site.id, week)] = max(0.0, spent.get((site.id, week), 0.0) / HOUR - staffed * share)
    return out


def _result(kpi: Kpi, scope: Any, per_hour: dict[int, Decimal] | None) -> Any:
    from ..engine import Result

    weeks: list[float | None] = [None] * scope.weeks
    total, n = 0.0, 0
    for (site_id, week), hours in overtime_weeks(scope).items():
        if per_hour is not None:
            if site_id not in per_hour:
                continue
            hours *= float(per_hour[site_id])
        weeks[week] = round((weeks[week] or 0.0) + hours, 2)
        total, n = total + hours, n + 1
    return Result(kpi, round(total, 2) if n else None, n, weeks)


def overtime_hours(scope: Any) -> Any:
    return _result(OVERTIME_HOURS, scope, None)


def overtime_cost(scope: Any) -> Any:
    from ..models import LabourCost

    costs = {c.site_id: c.per_hour for c in LabourCost.objects.filter(site__in=scope.sites)}
    return _result(OVERTIME_COST, scope, costs)


WHERE = (
    "Set a site's staffed hours and cost per staff hour on its staffing page; sites without them are "
    "left out, and the number of site-weeks it rests on is shown."
)
OVERTIME_HOURS = kpi_register(
    Kpi(
        key="capacity_overtime_hours",
        name="Overtime hours",
        group=Group.FINANCIAL,
        unit="h",
        better="lower",
        target=None,
        definition=(
            "Staff time spent beyond the staffed hours, per site and week, summed. Spent: the standard "
            "minutes of every staff action logged that week and of every contact attempt with a patient. "
            "Staffed: the hours the site's leaders entered for the calendar week the scorecard's week "
            "starts in, else their standing weekly figure (a short last week counts its share). Open items "
            "count the actions already taken. Against a baseline, the difference is the overtime avoided. " + WHERE
        ),
        kind=Kind.SUM,
        snapshot=overtime_hours,
        tags=("overtime_avoided",),
    )
)
OVERTIME_COST = kpi_register(
    Kpi(
        key="capacity_overtime_cost",
        name="Overtime cost",
        group=Group.FINANCIAL,
        unit="local currency",
        better="lower",
        target=None,
        definition=(
            "The overtime hours (see that tile) at each site's cost per staff hour, summed over the sites "
            "with a cost set. Against a baseline, the difference is the overtime money avoided. " + WHERE
        ),
        kind=Kind.SUM,
        snapshot=overtime_cost,
        tags=("overtime_avoided",),
    )
)
