"""The per-item rollup of the transition log: one row per work item with every column the KPIs
read (``apps.kpis.definitions.log``), kept in the table ``kpis_item_rollup`` so that a scorecard
reads about one row per item instead of sorting the whole log.

Exact by construction:
- a row is the log's per-item SELECT over ALL the item's transitions, plus ``last_at`` (its
  latest transition), ``next_change_at`` (when a column next changes with the clock alone, e.g. a
  result turning a day old) and ``settled_at`` (after which only a new transition changes it);
- a scorecard first refreshes, incrementally, the items with transitions added since the last
  refresh (the log is append-only; ids committed late are caught by re-counting the last
  ``LOOKBACK`` ids) and the rows whose ``next_change_at`` has come: closed items are never read
  again, open ones only when something happens to them;
- over a period, an item whose latest transition is before the period end is read from its row
  (the full computation sees the same transitions); one with later transitions is computed from
  the log as before (only those items: none for a period ending today);
- the table is rebuilt whole (a new table swapped in) when the definitions change: a module adds
  a column, or a site's leaders change their standard minutes (the fingerprint of the SQL). Until
  then the scorecard computes from the log, as without a rollup.

The beat task ``kpis.rollup_refresh`` builds it the first time and rebuilds it after a change;
``manage.py kpis_rollup_build`` builds it by hand.
"""

import hashlib
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from apps.workflow.selectors import TRANSITION_LOG_SQL

from .definitions import Kind, kpi_all
from .definitions.log import LOG, log_items_sql
from .models import RollupState
from .scope import Scope, bounds
from .sql import format_sql, is_postgres, now_sql

TABLE = "kpis_item_rollup"
BUILDING = "kpis_item_rollup_new"
LOOKBACK = 1000  # transition ids re-counted at each refresh (a transaction committing a lower id late)
REBUILD_ABOVE = 50_000  # more changed items than this: rebuild the whole table instead
WORK_MEM = "256MB"


def _definition() -> str:
    return format_sql(log_items_sql("1 = 1", bounded=False, tail=True))


def rollup_fingerprint() -> str:
    """Which definitions a rollup was built with: the per-item SQL (columns, closing states, minutes)."""
    return hashlib.sha256(_definition().encode()).hexdigest()


def _tune(cursor: Any) -> None:
    if is_postgres():
        cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        cursor.execute("SET LOCAL jit = off")


def _top_id(cursor: Any) -> int:
    cursor.execute(f"SELECT COALESCE(MAX(t.id), 0) FROM {TRANSITION_LOG_SQL} t", [])  # noqa: S608
    return int(cursor.fetchone()[0])


def _tail_count(cursor: Any, last_id: int) -> int:
    cursor.execute(
        f"SELECT COUNT(*) FROM {TRANSITION_LOG_SQL} t WHERE t.id > %s AND t.id <= %s",  # noqa: S608
        [last_id - LOOKBACK, last_id],
    )
    return int(cursor.fetchone()[0])


@transaction.atomic
def rollup_rebuild() -> int:
    """Build the rollup from the whole log into a new table and swap it in; how many items."""
    sql = _definition()
    with connection.cursor() as cursor:
        _tune(cursor)
        last_id = _top_id(cursor)  # read first: a row added meanwhile is read again at the next refresh
        cursor.execute(f"DROP TABLE IF EXISTS {BUILDING}", [])
        cursor.execute(f"CREATE TABLE {BUILDING} AS {sql}", [])
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}", [])
        cursor.execute(f"ALTER TABLE {BUILDING} RENAME TO {TABLE}", [])
        cursor.execute(f"CREATE UNIQUE INDEX {TABLE}_item ON {TABLE} (workflow, item_id)", [])
        cursor.execute(f"CREATE INDEX {TABLE}_site ON {TABLE} (site_id, last_at)", [])
        cursor.execute(f"CREATE INDEX {TABLE}_next ON {TABLE} (next_change_at)", [])
        if is_postgres():
            cursor.execute(f"ANALYZE {TABLE}", [])
        cursor.execute(f"SELECT COUNT(*) FROM {TABLE}", [])  # noqa: S608
        rows = int(cursor.fetchone()[0])
        tail = _tail_count(cursor, last_id)
    now = timezone.now()
    RollupState.objects.update_or_create(
        pk=1,
        defaults={
            "fingerprint": hashlib.sha256(sql.encode()).hexdigest(),
            "last_id": last_id,
            "tail_count": tail,
            "built_at": now,
            "refreshed_at": now,
        },
    )
    return rows


def _stale_items(cursor: Any, state: RollupState, top: int) -> list[tuple[str, int]]:
    """Items with transitions the rollup has not read, or a row whose clock change has come."""
    since = state.last_id
    if _tail_count(cursor, state.last_id) != state.tail_count:
        since = state.last_id - LOOKBACK  # a lower id committed late: read the whole tail again
    cursor.execute(
        f"SELECT DISTINCT t.workflow, t.item_id FROM {TRANSITION_LOG_SQL} t WHERE t.id > %s AND t.id <= %s "  # noqa: S608
        f"UNION SELECT r.workflow, r.item_id FROM {TABLE} r WHERE r.next_change_at <= {now_sql()}",
        [since, top],
    )
    return [(str(w), int(i)) for w, i in cursor.fetchall()]


def _recompute(cursor: Any, stale: list[tuple[str, int]]) -> None:
    by_workflow: dict[str, list[int]] = {}
    for workflow, item_id in stale:
        by_workflow.setdefault(workflow, []).append(item_id)
    for workflow, ids in by_workflow.items():
        quoted = "'" + workflow.replace("'", "''") + "'"
        for start in range(0, len(ids), 5000):
            chunk = ", ".join(str(int(i)) for i in ids[start : start + 5000])
            cursor.execute(f"DELETE FROM {TABLE} WHERE workflow = {quoted} AND item_id IN ({chunk})", [])  # noqa: S608
            where = f"t.workflow = {quoted} AND t.item_id IN ({chunk})"
            sql = format_sql(log_items_sql(where, bounded=False, tail=True))
            cursor.execute(f"INSERT INTO {TABLE} {sql}", [])


def rollup_refresh() -> bool:
    """Bring the rollup up to date with the log (the changed items only); whether it can be used
    (built with the current definitions)."""
    fingerprint = rollup_fingerprint()
    with transaction.atomic():
        # One refresh at a time; a reader waiting here then sees the rows the other one wrote.
        state = RollupState.objects.select_for_update().filter(pk=1).first()
        if state is None or state.fingerprint != fingerprint:
            return False
        with connection.cursor() as cursor:
            top = _top_id(cursor)
            stale = _stale_items(cursor, state, top)
            if len(stale) > REBUILD_ABOVE:
                rollup_rebuild()
                return True
            if not stale and top == state.last_id:
                return True
            _tune(cursor)
            _recompute(cursor, stale)
            state.last_id, state.tail_count = top, _tail_count(cursor, top)
        state.refreshed_at = timezone.now()
        state.save(update_fields=["last_id", "tail_count", "refreshed_at"])
    return True


def rollup_items_sql(scope: Scope) -> str | None:
    """The log source's per-item rows over a scope read from the rollup (refreshed first), or None
    when there is no usable rollup (the caller computes from the log)."""
    if not rollup_refresh():
        return None
    ids = ", ".join(str(int(site_id)) for site_id in scope.site_ids) or "NULL"
    # The period as literals per group of sites sharing it (computed instants, never user text):
    # the planner then knows how many rows come, and joins the rest by hash rather than by loop.
    periods: dict[tuple[Any, Any], str] = {}
    for site_id, lo, hi in bounds(scope):
        if site_id in scope.site_ids:
            periods[(lo, hi)] = f"{periods[(lo, hi)]}, {int(site_id)}" if (lo, hi) in periods else str(int(site_id))
    # Items with transitions after the period end: computed from the log up to it, as without a
    # rollup, reading only their transitions (by item, through the log's item index).
    later = " OR ".join(
        f"(p.site_id IN ({group}) AND p.opened_at < {_at(hi)} AND p.last_at >= {_at(hi)})"
        for (_, hi), group in periods.items()
    )
    later_sql = f"SELECT p.workflow, p.item_id FROM {TABLE} p WHERE {later or '1 = 0'}"  # noqa: S608
    if is_postgres():
        by_item = (
            f"({later_sql}) p CROSS JOIN LATERAL (SELECT l.* FROM {TRANSITION_LOG_SQL} l "  # noqa: S608
            f"WHERE l.workflow = p.workflow AND l.item_id = p.item_id OFFSET 0) t"  # OFFSET 0: kept per item
        )
        from_log = log_items_sql(f"t.site_id IN ({ids}) AND t.at < b.hi", bounded=True, tail=True, log_from=by_item)
    else:  # SQLite has no LATERAL; its planner looks the items up by the index itself
        where = f"t.site_id IN ({ids}) AND t.at < b.hi AND (t.workflow, t.item_id) IN ({later_sql})"
        from_log = log_items_sql(where, bounded=True, tail=True)
    # An item settled before the period start has no event in it; it stays in a backlog (open
    # count, open age) only while that backlog's closing column is empty.
    backlogs = {k.value for k in kpi_all() if k.source == LOG.key and k.kind in (Kind.OPEN_COUNT, Kind.OPEN_AGE)}
    still_open = "".join(f" OR r.{column} IS NULL" for column in sorted(backlogs))
    kept = " OR ".join(
        f"(r.site_id IN ({group}) AND r.opened_at < {_at(hi)} "
        f"AND r.last_at < {_at(hi)} AND (r.settled_at >= {_at(lo)}{still_open}))"
        for (lo, hi), group in periods.items()
    )
    return f"SELECT r.* FROM {TABLE} r WHERE {kept or '1 = 0'} UNION ALL {from_log}"  # noqa: S608


def _at(instant: Any) -> str:
    literal = connection.ops.adapt_datetimefield_value(instant)
    return f"CAST('{literal}' AS timestamptz)" if is_postgres() else f"'{literal}'"
