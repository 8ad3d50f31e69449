"""The transition-log source every workflow's KPIs share: ONE scan of the log (``TRANSITION_LOG_SQL``)
up to the period end builds one row per item, and each definitions module adds the columns
it needs (``log_column_register``) instead of scanning again.

Each column is an aggregate over the item's transitions ``x`` (``x.workflow``, ``x.transition``,
``x.to_state``, ``x.queue``, ``x.at``, ``x.actor_role``, ``x.source``, and ``x.handoff_s``:
seconds since the previous transition when a different staff role acts). Always present:
``workflow``, ``item_id``, ``site_id`` and ``service_line_id`` (the largest id, in the rare
case an item moved), ``opened_at`` (the first log entry) and ``closed_at`` (the first move
into a closed state, per ``CLOSED_STATES``).
"""

from collections.abc import Callable

from apps.intake.selectors import INTAKE_FACTS_SQL
from apps.referrals.selectors import REFERRAL_FACTS_SQL
from apps.workflow.selectors import TRANSITION_LOG_SQL

from ..sql import now_sql
from . import Source, source_register

# States that close an item, per workflow (results and intake add theirs).
CLOSED_STATES: dict[str, tuple[str, ...]] = {}
_columns: dict[str, "str | Callable[[], str]"] = {}
# Columns whose value changes with the clock alone (e.g. "a result older than a day"): name → an
# aggregate giving the time it changes (NULL: never). The rollup recomputes a row when it comes.
_changes_at: dict[str, str] = {}


CLOSING = "CLOSING_TRANSITION"  # in a column's aggregate: "this transition closed the item"


def log_column_register(name: str, aggregate: "str | Callable[[], str]", *, changes_at: str = "") -> None:
    """Add a per-item column, e.g. ``("ref_triaged_at", "MIN(CASE WHEN ... THEN x.at END)")``; the
    word ``CLOSING_TRANSITION`` in it stands for the condition that closes an item (``closed_at``).
    A column that places items in a period holds the time of one of the item's transitions, or the
    time in ``changes_at`` for a column that changes with the clock alone (the aggregate giving
    when; the per-item rollup recomputes the row then)."""
    _columns[name] = aggregate
    if changes_at:
        _changes_at[name] = changes_at


def closed_states_register(workflow: str, states: tuple[str, ...]) -> None:
    """Declare a workflow's closing states; only workflows declared here are scanned."""
    CLOSED_STATES[workflow] = tuple(states)


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _least(exprs: list[str]) -> str:
    """The earliest of timestamp expressions, NULLs ignored (NULL if all are): both databases."""
    if not exprs:
        return "NULL"
    out = exprs[0]
    for e in exprs[1:]:
        out = f"(CASE WHEN {out} IS NULL THEN {e} WHEN {e} IS NULL OR {out} <= {e} THEN {out} ELSE {e} END)"
    return out


def _greatest(exprs: list[str]) -> str:
    """The latest of timestamp expressions, NULLs ignored."""
    out = exprs[0]
    for e in exprs[1:]:
        out = f"(CASE WHEN {out} IS NULL THEN {e} WHEN {e} IS NULL OR {out} >= {e} THEN {out} ELSE {e} END)"
    return out


def log_sql() -> str:
    """The per-item SELECT with every registered column over a scope (built when a scorecard runs):
    the transitions at the scope's sites before each site's period end."""
    return log_items_sql("SCOPE_FILTER AND t.at < b.hi", bounded=True)


def log_items_sql(where: str, *, bounded: bool, tail: bool = False, log_from: str = "") -> str:
    """One row per item from its transitions ``t`` matching ``where`` (joined to ``bounds b`` when
    ``bounded``). ``tail`` adds ``last_at`` and ``last_id`` (the item's latest transition), which the
    per-item rollup (``apps.kpis.rollup``) keeps to know whether a row is exact for a period;
    ``log_from`` replaces the log relation (it must still be aliased ``t``)."""
    closed = " OR ".join(
        f"(x.workflow = '{wf}' AND x.to_state IN ({_quoted(states)}))" for wf, states in CLOSED_STATES.items()
    )
    closing = f"({closed or '1 = 0'})"
    extra = "".join(
        f",\n           {(a() if callable(a) else a).replace(CLOSING, closing)} AS {name}"
        for name, a in _columns.items()
    )
    if tail:
        flips = list(_changes_at.values())
        upcoming = [f"CASE WHEN {f} > {now_sql()} THEN {f} END" for f in flips]
        extra += (
            f", MAX(x.at) AS last_at, MAX(x.id) AS last_id, {_least(upcoming)} AS next_change_at,"
            f" {_greatest(['MAX(x.at)', *flips])} AS settled_at"
        )
    join = "JOIN bounds b ON b.site_id = t.site_id" if bounded else ""
    return f"""
    SELECT x.workflow AS workflow, x.item_id AS item_id, MAX(x.site_id) AS site_id,
           MAX(x.service_line_id) AS service_line_id, '' AS patient_ref,
           MIN(x.at) AS opened_at,
           MIN(CASE WHEN {closed or "1 = 0"} THEN x.at END) AS closed_at{extra}
    FROM (
      SELECT y.*,
             CASE WHEN y.source = 'staff' AND y.actor_role <> '' AND y.prev_role <> '' AND y.prev_role <> y.actor_role
                  THEN SECS(y.at, y.prev_at) END AS handoff_s
      FROM (
        SELECT t.id, t.workflow, t.item_id, t.site_id, t.service_line_id, t.transition, t.to_state, t.queue, t.at,
               t.actor_role, t.source,
               LAG(t.actor_role) OVER w AS prev_role, LAG(t.at) OVER w AS prev_at
        FROM {log_from or TRANSITION_LOG_SQL + " t"}
        {join}
        WHERE t.workflow IN ({_quoted(tuple(CLOSED_STATES)) or "''"}) AND {where}
        WINDOW w AS (PARTITION BY t.workflow, t.item_id ORDER BY t.at, t.id)
      ) y
    ) x
    -- grouped on the window's sort order: no second sort or hash of the items
    GROUP BY x.workflow, x.item_id
    """  # noqa: S608 - SQL from KPI definitions; values are parameters


# Relations from the apps' selectors; no values.
_REF_HAND = f"SELECT 1 FROM {REFERRAL_FACTS_SQL} h WHERE h.id = s.item_id AND h.entered_by_hand"  # noqa: S608
_INTAKE_HAND = f"SELECT 1 FROM {INTAKE_FACTS_SQL} h WHERE h.id = s.item_id AND h.entered_by_hand"  # noqa: S608
BY_HAND = f"(s.workflow = 'referral' AND EXISTS ({_REF_HAND})) OR (s.workflow = 'intake' AND EXISTS ({_INTAKE_HAND}))"

LOG = source_register(
    Source(
        key="log",
        sql=log_sql,
        service_line_column="service_line_id",
        drill_columns=("workflow", "item_id", "site_id", "patient_ref"),
        by_hand=BY_HAND,
        rollup=True,
    )
)
