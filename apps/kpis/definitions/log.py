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

from . import Source, source_register

# States that close an item, per workflow (results and intake add theirs).
CLOSED_STATES: dict[str, tuple[str, ...]] = {}
_columns: dict[str, "str | Callable[[], str]"] = {}


CLOSING = "CLOSING_TRANSITION"  # in a column's aggregate: "this transition closed the item"


def log_column_register(name: str, aggregate: "str | Callable[[], str]") -> None:
    """Add a per-item column, e.g. ``("ref_triaged_at", "MIN(CASE WHEN ... THEN x.at END)")``; the
    word ``CLOSING_TRANSITION`` in it stands for the condition that closes an item (``closed_at``)."""
    _columns[name] = aggregate


def closed_states_register(workflow: str, states: tuple[str, ...]) -> None:
    """Declare a workflow's closing states; only workflows declared here are scanned."""
    CLOSED_STATES[workflow] = tuple(states)


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def log_sql() -> str:
    """The per-item SELECT with every registered column (built when a scorecard runs)."""
    closed = " OR ".join(
        f"(x.workflow = '{wf}' AND x.to_state IN ({_quoted(states)}))" for wf, states in CLOSED_STATES.items()
    )
    closing = f"({closed or '1 = 0'})"
    extra = "".join(
        f",\n           {(a() if callable(a) else a).replace(CLOSING, closing)} AS {name}"
        for name, a in _columns.items()
    )
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
        SELECT t.workflow, t.item_id, t.site_id, t.service_line_id, t.transition, t.to_state, t.queue, t.at,
               t.actor_role, t.source,
               LAG(t.actor_role) OVER w AS prev_role, LAG(t.at) OVER w AS prev_at
        FROM {TRANSITION_LOG_SQL} t
        JOIN bounds b ON b.site_id = t.site_id
        WHERE t.workflow IN ({_quoted(tuple(CLOSED_STATES)) or "''"}) AND SCOPE_FILTER AND t.at < b.hi
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
    )
)
