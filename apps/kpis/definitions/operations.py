"""Operations KPIs over every workflow: one row per item from the transition log (a window over
each item's transitions finds the handoffs), and snapshots of the open work from the workflow
models (queue length and inbox aging at the period end)."""

from typing import Any

from django.db import connection
from django.utils import timezone

from apps.workflow.registry import workflow_models

from . import Group, Kind, Kpi, Source, kpi_register, source_register

HOUR = 3600.0
# States that close an item, per workflow (results and intake add theirs).
CLOSED_STATES: dict[str, tuple[str, ...]] = {
    "referral": ("completed", "declined", "cancelled", "abandoned"),
}
REOPENING = ("unschedule", "reopen")  # transitions that undo finished work
EXCEPTIONS_QUEUE = "exceptions"


def _closed_case() -> str:
    parts = [
        f"(x.workflow = '{wf}' AND x.to_state IN ({', '.join(repr(s) for s in states)}))"
        for wf, states in CLOSED_STATES.items()
    ]
    return " OR ".join(parts) or "1 = 0"


def _sql() -> str:
    return f"""
    SELECT x.workflow AS workflow, x.item_id AS item_id, x.site_id AS site_id,
           MAX(x.service_line_id) AS service_line_id, '' AS patient_ref,
           MIN(x.at) AS opened_at,
           MIN(CASE WHEN {_closed_case()} THEN x.at END) AS closed_at,
           MIN(CASE WHEN x.transition = 'escalate' THEN x.at END) AS escalated_at,
           MAX(CASE WHEN x.transition IN ({", ".join(repr(t) for t in REOPENING)})
                     OR x.queue = '{EXCEPTIONS_QUEUE}' THEN 1 ELSE 0 END) AS reworked,
           AVG(x.handoff_s) AS handoff_s
    FROM (
      SELECT t.workflow, t.item_id, t.site_id, t.service_line_id, t.transition, t.to_state, t.queue, t.at,
             CASE WHEN t.source = 'staff' AND t.actor_role <> '' AND LAG(t.actor_role) OVER w <> ''
                       AND LAG(t.actor_role) OVER w <> t.actor_role
                  THEN SECS(t.at, LAG(t.at) OVER w) END AS handoff_s
      FROM workflow_transition t
      JOIN bounds b ON b.site_id = t.site_id
      WHERE t.at < b.hi
      WINDOW w AS (PARTITION BY t.workflow, t.item_id ORDER BY t.at, t.id)
    ) x
    GROUP BY x.workflow, x.item_id, x.site_id
    """  # noqa: S608 - SQL from KPI definitions; values are parameters


OPERATIONS = source_register(
    Source(
        key="operations",
        sql=_sql(),
        service_line_column="service_line_id",
        drill_columns=("workflow", "item_id", "site_id", "patient_ref"),
    )
)

kpi_register(
    Kpi(
        key="ops_handoff_latency",
        name="Handoff latency (median)",
        group=Group.OPERATIONAL,
        unit="h",
        better="lower",
        target=8,
        definition=(
            "For each item closed in the period: the mean wait from one role's action to the next "
            "action by a different role (e.g. triage by a clinician, then scheduling by a scheduler); "
            "the median over those items. Actions by the EHR and timers are not handoffs."
        ),
        source="operations",
        kind=Kind.MEDIAN,
        value="handoff_s",
        event="closed_at",
        scale=HOUR,
    )
)
kpi_register(
    Kpi(
        key="ops_escalations",
        name="Escalations",
        group=Group.OPERATIONAL,
        unit="items",
        better="lower",
        target=None,
        definition="Items first escalated to a supervisor (SLA breached) in the period.",
        source="operations",
        kind=Kind.COUNT,
        value="1",
        event="escalated_at",
    )
)
kpi_register(
    Kpi(
        key="ops_sla_adherence",
        name="SLA adherence",
        group=Group.OPERATIONAL,
        unit="%",
        better="higher",
        target=90,
        definition=(
            "Numerator: items closed in the period that were never escalated before closing. "
            "Denominator: items closed in the period."
        ),
        source="operations",
        kind=Kind.RATE,
        value="CASE WHEN escalated_at IS NULL OR escalated_at > closed_at THEN 1 ELSE 0 END",
        event="closed_at",
    )
)
kpi_register(
    Kpi(
        key="ops_no_rework",
        name="Completed without rework",
        group=Group.OPERATIONAL,
        unit="%",
        better="higher",
        target=85,
        definition=(
            "Numerator: items closed in the period that were never reopened (e.g. unscheduled) and "
            "never sat in the exceptions queue. Denominator: items closed in the period."
        ),
        source="operations",
        kind=Kind.RATE,
        value="1 - reworked",
        event="closed_at",
    )
)


def _open_items_sql(scope: Any, extra: str) -> tuple[list[str], list[Any]]:
    """One SELECT per workflow table over the open-item intervals (``extra`` filters)."""
    parts, params = [], []
    for model in workflow_models().values():
        table = model._meta.db_table
        line = ""
        if scope.service_line_id:
            line = " AND m.service_line_id = %s"
            params.append(scope.service_line_id)
        parts.append(
            f"SELECT m.opened_at, m.closed_at, b.lo, b.hi FROM {table} m JOIN bounds b ON b.site_id = m.site_id "  # noqa: S608 - SQL from KPI definitions; values are parameters
            f"WHERE m.opened_at < b.hi{line}{extra}"
        )
    return parts, params


def queue_length(scope: Any) -> Any:
    """Open items at the end of the period and at the end of each week (from the workflow tables)."""
    from ..engine import Result, bounds_cte
    from ..sql import week_of

    kpi = QUEUE_LENGTH
    if not scope.sites or not workflow_models():
        return Result(kpi, 0.0, 0, [0.0] * scope.weeks)
    cte, params = bounds_cte(scope)
    parts, more = _open_items_sql(scope, " AND (m.closed_at IS NULL OR m.closed_at >= b.lo)")
    opened = f"CASE WHEN opened_at < lo THEN -1 ELSE {week_of('opened_at', 'lo')} END"
    closed = f"CASE WHEN closed_at IS NULL OR closed_at >= hi THEN NULL ELSE {week_of('closed_at', 'lo')} END"
    sql = (
        f"WITH {cte} SELECT {opened} AS ow, {closed} AS cw, COUNT(*) FROM ({' UNION ALL '.join(parts)}) x "  # noqa: S608 - SQL from KPI definitions; values are parameters
        f"GROUP BY {opened}, {closed}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params + more)
        groups = cursor.fetchall()
    weeks = []
    for w in range(scope.weeks):
        # Open at the end of week w: opened by then, not closed by then.
        weeks.append(float(sum(n for ow, cw, n in groups if ow <= w and (cw is None or cw > w))))
    at_end = float(sum(n for _, cw, n in groups if cw is None))
    return Result(kpi, at_end, int(at_end), weeks)


def inbox_aging(scope: Any) -> Any:
    """Median age of the items open at the period end (or now, for a period not yet over)."""
    from ..engine import Result, bounds_cte, percentile_of
    from ..sql import secs, ts_param

    kpi = INBOX_AGING
    if not scope.sites or not workflow_models():
        return Result(kpi, None, 0, [None] * scope.weeks)
    cte, params = bounds_cte(scope)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    parts, more = _open_items_sql(scope, " AND (m.closed_at IS NULL OR m.closed_at >= b.hi)")
    as_of = f"CASE WHEN hi < {ts_param()} THEN hi ELSE {ts_param()} END"
    sql = f"WITH {cte} SELECT {secs(as_of, 'opened_at')} AS v FROM ({' UNION ALL '.join(parts)}) x"  # noqa: S608 - SQL from KPI definitions; values are parameters
    value, n = percentile_of(sql, [*params, now, now, *more], 0.5)
    return Result(kpi, None if value is None else round(value / HOUR, 2), n, [None] * scope.weeks)


QUEUE_LENGTH = kpi_register(
    Kpi(
        key="ops_queue_length",
        name="Queue length",
        group=Group.OPERATIONAL,
        unit="items",
        better="lower",
        target=None,
        definition=(
            "Open items (in any queue, every workflow) at the end of the period; the trend is the "
            "count at the end of each week."
        ),
        kind=Kind.COUNT,
        snapshot=queue_length,
    )
)
INBOX_AGING = kpi_register(
    Kpi(
        key="ops_inbox_aging",
        name="Inbox aging (median age of open items)",
        group=Group.OPERATIONAL,
        unit="h",
        better="lower",
        target=48,
        definition=(
            "Median time since opening of the items open at the end of the period (or now, if the "
            "period has not ended)."
        ),
        kind=Kind.MEDIAN,
        snapshot=inbox_aging,
    )
)
