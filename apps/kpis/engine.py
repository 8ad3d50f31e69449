"""Computes KPIs in the database: one scan per source builds one row per item; each KPI is an
aggregate over those rows, for the whole period and per week, in the same statement.

PostgreSQL aggregates with ``percentile_cont`` and ``ROLLUP``; SQLite (the embedded default)
runs the same item and filter SQL and aggregates the (kpi, week, value) rows in Python with
the same interpolation, so both give the same answers (tests run on both).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from .definitions import Kind, Kpi, Source, source_get
from .rollup import rollup_items_sql
from .scope import Scope, bounds
from .sql import format_sql, is_postgres, now_sql, secs, ts_param, week_of

DRILL_LIMIT = 5000
SHIPPED = "Shipped default"
WORK_MEM = "256MB"


@dataclass
class Result:
    """A KPI's value over the scope (display units), how many items it rests on, and per week."""

    kpi: Kpi
    value: float | None
    n: int
    weeks: list[float | None] = field(default_factory=list)
    # The target this scorecard holds the value to, and whose it is (a leader's for the site and
    # service line, or the shipped default): see ``apps.kpis.targets``.
    target: float | None = None
    target_whose: str = ""

    def __post_init__(self) -> None:
        if not self.target_whose:
            self.target, self.target_whose = self.kpi.target, SHIPPED

    @property
    def trend(self) -> str:
        """'up', 'down' or 'flat': the last week with a value against the one before it."""
        seen = [v for v in self.weeks if v is not None]
        if len(seen) < 2 or seen[-1] == seen[-2]:
            return "flat"
        return "up" if seen[-1] > seen[-2] else "down"

    @property
    def improving(self) -> bool | None:
        if self.trend == "flat":
            return None
        return (self.trend == "down") == self.kpi.is_better_lower

    @property
    def meets_target(self) -> bool | None:
        return self.kpi.meets(self.value, self.target)


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def aggregate(kind: str, values: list[float]) -> float | None:
    """One KPI aggregate in Python (the SQLite path), matching the SQL of ``_sql_aggregate``."""
    if kind == Kind.COUNT:
        return float(len(values))
    if kind == Kind.SUM:
        return float(sum(values))
    if not values:
        return None
    if kind == Kind.MEDIAN:
        return percentile_cont(values, 0.5)
    if kind == Kind.P90:
        return percentile_cont(values, 0.9)
    if kind == Kind.RATE:
        return 100.0 * sum(values) / len(values)
    return sum(values) / len(values)


def _sql_aggregate(kind: str, v: str = "v") -> str:
    """The PostgreSQL aggregate of a KPI kind over column ``v`` (NULLs ignored)."""
    return {
        Kind.MEDIAN: f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {v})",
        Kind.P90: f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {v})",
        Kind.RATE: f"100.0 * AVG({v})",
        Kind.MEAN: f"AVG({v})",
        Kind.COUNT: f"COUNT({v})",
        Kind.SUM: f"COALESCE(SUM({v}), 0)",
    }[kind]


def bounds_cte(scope: Scope) -> tuple[str, list[Any]]:
    """``bounds(site_id, lo, hi)``: each site's period in UTC (a CTE body, with its parameters)."""
    rows = bounds(scope)
    ts = ts_param()
    values = ", ".join(f"(CAST(%s AS integer), {ts}, {ts})" for _ in rows)
    params: list[Any] = []
    for site_id, lo, hi in rows:
        params += [site_id, connection.ops.adapt_datetimefield_value(lo), connection.ops.adapt_datetimefield_value(hi)]
    return f"bounds(site_id, lo, hi) AS (VALUES {values})", params


def percentile_of(sql: str, params: list[Any], fraction: float) -> tuple[float | None, int]:
    """percentile_cont of the single column ``v`` of ``sql``, and how many rows it had."""
    with connection.cursor() as cursor:
        if is_postgres():
            cursor.execute(
                f"SELECT percentile_cont({float(fraction)}) WITHIN GROUP (ORDER BY v), COUNT(*) FROM ({sql}) x",  # noqa: S608
                params,
            )
            value, n = cursor.fetchone()
            return (None if value is None else float(value)), n
        cursor.execute(sql, params)
        found = [row[0] for row in cursor.fetchall()]
        return percentile_cont(found, fraction), len(found)


def _scope_filter(scope: Scope) -> str:
    """``site_id IN (…) AND at < latest end``, inlined (ids and a computed instant, never user
    text) so the planner can use the (workflow, site, at) index; ``bounds`` then trims exactly."""
    ids = ", ".join(str(int(site_id)) for site_id in scope.site_ids) or "NULL"
    latest = max(hi for _, _, hi in bounds(scope))
    literal = connection.ops.adapt_datetimefield_value(latest)
    at = f"CAST('{literal}' AS timestamptz)" if is_postgres() else f"'{literal}'"
    return f"t.site_id IN ({ids}) AND t.at < {at}"


def _with(source: Source, scope: Scope) -> tuple[str, list[Any]]:
    """The bounds and items CTEs for a source over a scope."""
    cte, params = bounds_cte(scope)
    text = (source.rollup and rollup_items_sql(scope)) or (source.sql() if callable(source.sql) else source.sql)
    items = format_sql(text).replace("SCOPE_FILTER", _scope_filter(scope))
    params += list(source.params)
    if scope.service_line_id and source.service_line_column:
        items = f"SELECT * FROM ({items}) s WHERE s.{source.service_line_column} = %s"  # noqa: S608 - SQL from KPI definitions; values are parameters
        params.append(scope.service_line_id)
    if scope.by_hand is not None and source.site_scoped:
        hand = source.by_hand or "1 = 0"
        keep = f"({hand})" if scope.by_hand else f"NOT ({hand})"
        items = f"SELECT * FROM ({items}) s WHERE {keep}"  # noqa: S608 - SQL from KPI definitions
    materialized = "MATERIALIZED " if is_postgres() else ""
    sql = f"WITH {cte}, items AS {materialized}({items}) "
    return sql, params


def _value(kpi: Kpi) -> str:
    return format_sql("1" if kpi.kind == Kind.COUNT and not kpi.value else kpi.value)


JOIN_BOUNDS = "FROM items i JOIN bounds b ON b.site_id = COALESCE(i.site_id, 0)"
OPEN_KINDS = (Kind.OPEN_COUNT, Kind.OPEN_AGE)


def _raw(kpi: Kpi) -> str:
    """(kpi, week, value) for each item the KPI counts in the period."""
    value = _value(kpi)
    return (
        f"SELECT '{kpi.key}' AS k, {week_of('i.' + kpi.event, 'b.lo')} AS wk, CAST(({value}) AS float) AS v "
        f"{JOIN_BOUNDS} {kpi.join} WHERE i.{kpi.event} >= b.lo AND i.{kpi.event} < b.hi AND ({value}) IS NOT NULL"
    )


def _open_count(kpi: Kpi, *, grouped: bool) -> str:
    """Items open at some time in the period: (kpi, week opened or -1, week closed or NULL[, n])."""
    opened, closed = f"i.{kpi.event}", f"i.{kpi.value}"
    ow = f"CASE WHEN {opened} < b.lo THEN -1 ELSE {week_of(opened, 'b.lo')} END"
    cw = f"CASE WHEN {closed} IS NULL OR {closed} >= b.hi THEN NULL ELSE {week_of(closed, 'b.lo')} END"
    where = f"WHERE {opened} < b.hi AND ({closed} IS NULL OR {closed} >= b.lo)"
    if grouped:
        return f"SELECT '{kpi.key}' AS k, {ow} AS wk, CAST({cw} AS float) AS a, COUNT(*) AS n {JOIN_BOUNDS} {where} GROUP BY {ow}, {cw}"  # noqa: E501
    return f"SELECT '{kpi.key}' AS k, {ow} AS wk, CAST({cw} AS float) AS v {JOIN_BOUNDS} {where}"


def _open_age(kpi: Kpi) -> str:
    """(kpi, NULL, age in seconds at the period end, or now) for each item open then."""
    as_of = f"CASE WHEN b.hi < {now_sql()} THEN b.hi ELSE {now_sql()} END"
    opened, closed = f"i.{kpi.event}", f"i.{kpi.value}"
    return (
        f"SELECT '{kpi.key}' AS k, NULL AS wk, CAST({secs(as_of, opened)} AS float) AS v {JOIN_BOUNDS} "
        f"WHERE {opened} < b.hi AND ({closed} IS NULL OR {closed} >= b.hi)"
    )


def _event_groups(kpis: list[Kpi]) -> dict[str, list[Kpi]]:
    """KPIs placed in the period by the same event column: one pass over the items each."""
    groups: dict[str, list[Kpi]] = defaultdict(list)
    for kpi in kpis:
        if kpi.kind not in OPEN_KINDS:
            groups[kpi.event].append(kpi)
    return groups


def _pg_statement(kpis: list[Kpi]) -> tuple[str, int]:
    """One pass per event column computing all its KPIs for the period and each week
    (``ROLLUP``), plus one per backlog KPI; rows ``(tag, week, a1, n1, a2, n2, …)``."""
    groups = _event_groups(kpis)
    width = max([len(g) for g in groups.values()] + [1])
    pad = lambda used: "".join(", CAST(NULL AS float), CAST(NULL AS bigint)" for _ in range(width - used))  # noqa: E731
    parts = []
    for event, members in groups.items():
        joins = " ".join(dict.fromkeys(k.join for k in members if k.join))
        inner = ", ".join(f"CAST(({_value(k)}) AS float) AS v{i}" for i, k in enumerate(members))
        cells = ", ".join(
            f"CAST({_sql_aggregate(k.kind, f'v{i}')} AS float), COUNT(v{i})" for i, k in enumerate(members)
        )
        parts.append(
            f"SELECT 'e:{event}', wk, {cells}{pad(len(members))} FROM ("  # noqa: S608
            f"SELECT {week_of('i.' + event, 'b.lo')} AS wk, {inner} {JOIN_BOUNDS} {joins} "
            f"WHERE i.{event} >= b.lo AND i.{event} < b.hi) x GROUP BY ROLLUP(wk)"
        )
    for kpi in kpis:
        if kpi.kind == Kind.OPEN_COUNT:
            parts.append(
                f"SELECT 'k:' || k, wk, a, n{pad(1)} FROM ({_open_count(kpi, grouped=True)}) x"  # noqa: S608
            )
        elif kpi.kind == Kind.OPEN_AGE:
            parts.append(
                f"SELECT 'k:' || k, CAST(NULL AS integer), CAST({_sql_aggregate(Kind.MEDIAN)} AS float), COUNT(*)"  # noqa: S608
                f"{pad(1)} FROM ({_open_age(kpi)}) x GROUP BY k"
            )
    return " UNION ALL ".join(parts), width


def _sqlite_part(kpi: Kpi) -> str:
    if kpi.kind == Kind.OPEN_COUNT:
        return _open_count(kpi, grouped=False)
    if kpi.kind == Kind.OPEN_AGE:
        return _open_age(kpi)
    return _raw(kpi)


def open_counts(groups: list[tuple[int, float | None, int]], weeks: int) -> tuple[float, list[float | None]]:
    """Open at the period end and at each week's end, from (week opened, week closed, n) groups."""
    by_week: list[float | None] = [
        float(sum(n for ow, cw, n in groups if ow <= w and (cw is None or cw > w))) for w in range(weeks)
    ]
    return float(sum(n for _, cw, n in groups if cw is None)), by_week


def evaluate(kpis: Iterable[Kpi], scope: Scope) -> dict[str, Result]:
    """Every KPI over the scope: one statement per source (snapshots run their own)."""
    results: dict[str, Result] = {}
    by_source: dict[str, list[Kpi]] = defaultdict(list)
    for kpi in kpis:
        if kpi.snapshot is not None:
            results[kpi.key] = kpi.snapshot(scope)
        else:
            by_source[kpi.source].append(kpi)
    for key, group in by_source.items():
        results.update(_evaluate_source(source_get(key), group, scope))
    return results


def _more_memory(cursor: Any) -> None:
    """Let the one per-item sort of the log run in memory rather than spill to disk (PostgreSQL's
    default work_mem is 4 MB), for the current transaction only."""
    cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
    # JIT compiling this statement costs more than it saves (hundreds of ms at plan time).
    cursor.execute("SET LOCAL jit = off")


def _empty(kpi: Kpi, weeks: int) -> Result:
    zero = kpi.kind in (Kind.COUNT, Kind.OPEN_COUNT, Kind.SUM)
    return Result(kpi, 0.0 if zero else None, 0, [0.0 if kpi.kind == Kind.OPEN_COUNT else None] * weeks)


def _evaluate_source(source: Source, kpis: list[Kpi], scope: Scope) -> dict[str, Result]:
    if not scope.sites and source.site_scoped:
        return {k.key: _empty(k, scope.weeks) for k in kpis}
    head, params = _with(source, scope)
    kinds = {k.key: k.kind for k in kpis}
    totals: dict[str, tuple[float | None, int]] = {}
    weekly: dict[str, dict[int, float | None]] = defaultdict(dict)
    open_groups: dict[str, list[tuple[int, float | None, int]]] = defaultdict(list)
    with transaction.atomic(), connection.cursor() as cursor:
        if is_postgres():
            _more_memory(cursor)
            sql, _ = _pg_statement(kpis)
            cursor.execute(head + sql, params)
            for row in cursor.fetchall():
                tag, wk, cells = row[0], row[1], row[2:]
                if tag.startswith("k:"):  # a backlog KPI of its own
                    k, a, n = tag[2:], cells[0], cells[1]
                    if kinds[k] == Kind.OPEN_COUNT:
                        open_groups[k].append((wk, a, n))
                    else:
                        totals[k] = (None if a is None else float(a), n)
                    continue
                for i, k in enumerate(_event_groups(kpis)[tag[2:]]):
                    a, n = cells[2 * i], cells[2 * i + 1]
                    if wk is None:
                        totals[k.key] = (None if a is None else float(a), n)
                    else:
                        weekly[k.key][wk] = None if a is None else float(a)
        else:
            cursor.execute(head + " UNION ALL ".join(_sqlite_part(k) for k in kpis), params)
            values: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
            for k, wk, v in cursor.fetchall():
                if kinds[k] == Kind.OPEN_COUNT:
                    open_groups[k].append((wk, v, 1))
                else:
                    values[k][wk].append(v)
            for k, per_week in values.items():
                kind = Kind.MEDIAN if kinds[k] == Kind.OPEN_AGE else kinds[k]
                everything = [v for vs in per_week.values() for v in vs]
                totals[k] = (aggregate(kind, everything), len(everything))
                if kinds[k] != Kind.OPEN_AGE:
                    weekly[k] = {wk: aggregate(kind, vs) for wk, vs in per_week.items()}
    out = {}
    for kpi in kpis:
        if kpi.kind == Kind.OPEN_COUNT:
            at_end, by_week = open_counts(open_groups[kpi.key], scope.weeks)
            out[kpi.key] = Result(kpi, at_end, int(at_end), by_week)
            continue
        if kpi.key not in totals:
            out[kpi.key] = _empty(kpi, scope.weeks)
            continue
        value, n = totals[kpi.key]
        weeks = [weekly[kpi.key].get(w) for w in range(scope.weeks)]
        out[kpi.key] = Result(kpi, _display(kpi, value), n, [_display(kpi, v) for v in weeks])
    return out


def _display(kpi: Kpi, value: float | None) -> float | None:
    if value is None:
        return None
    if kpi.kind in (Kind.RATE, Kind.COUNT):
        return round(value, 2)
    return round(value / kpi.scale, 2)


def values(kpi: Kpi, scope: Scope, *, limit: int = 50_000) -> list[float]:
    """The per-item values behind a KPI in display units (a distribution; no item ids)."""
    if kpi.snapshot is not None or kpi.kind in OPEN_KINDS or not scope.sites:
        return []
    head, params = _with(source_get(kpi.source), scope)
    with connection.cursor() as cursor:
        cursor.execute(f"{head} SELECT v FROM ({_raw(kpi)}) x LIMIT {int(limit)}", params)  # noqa: S608 - SQL from KPI definitions; values are parameters
        scale = 1.0 if kpi.kind in (Kind.RATE, Kind.COUNT) else kpi.scale
        return [row[0] / scale for row in cursor.fetchall()]


def item_values(kpis: Iterable[Kpi], scope: Scope) -> dict[str, list[tuple[int, float]]]:
    """(week, value in display units; 0/1 for a rate) of every item each KPI counts, for the
    intervals of a comparison: one statement per source, as the scorecard. Snapshots and
    backlogs have no per-item values."""
    wanted: dict[str, list[Kpi]] = defaultdict(list)
    for kpi in kpis:
        if kpi.snapshot is None and kpi.kind not in OPEN_KINDS:
            wanted[kpi.source].append(kpi)
    out: dict[str, list[tuple[int, float]]] = {k.key: [] for ks in wanted.values() for k in ks}
    if not scope.sites:
        return out
    for key, group in wanted.items():
        head, params = _with(source_get(key), scope)
        scales = {k.key: 1.0 if k.kind in (Kind.RATE, Kind.COUNT) else k.scale for k in group}
        with transaction.atomic(), connection.cursor() as cursor:
            if is_postgres():
                _more_memory(cursor)
            cursor.execute(head + " UNION ALL ".join(_raw(k) for k in group), params)
            for k, wk, v in cursor.fetchall():
                out[k].append((int(wk), v / scales[k]))
    return out


def items(kpi: Kpi, scope: Scope, *, limit: int = DRILL_LIMIT) -> list[dict[str, Any]]:
    """The exact items behind a KPI: the drill columns, the event time and the value."""
    if kpi.snapshot is not None or kpi.kind in OPEN_KINDS or not scope.sites:
        return []
    source = source_get(kpi.source)
    head, params = _with(source, scope)
    value = _value(kpi)
    columns = ", ".join(f"i.{c}" for c in source.drill_columns)
    sql = (
        f"{head} SELECT {columns}, i.{kpi.event} AS event_at, CAST(({value}) AS float) AS v "
        f"{JOIN_BOUNDS} {kpi.join} "
        f"WHERE i.{kpi.event} >= b.lo AND i.{kpi.event} < b.hi AND ({value}) IS NOT NULL "
        f"ORDER BY v DESC, i.{kpi.event} LIMIT {int(limit)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [*source.drill_columns, "event_at", "value"]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    scale = 1.0 if kpi.kind in (Kind.RATE, Kind.COUNT) else kpi.scale
    field_ = connection.ops
    for row in rows:
        row["value"] = round(row["value"] / scale, 2)
        if isinstance(row["event_at"], str):  # SQLite returns text from raw SQL
            row["event_at"] = field_.convert_datetimefield_value(row["event_at"], None, connection)  # type: ignore[attr-defined]  # SQLite ops
    return rows
