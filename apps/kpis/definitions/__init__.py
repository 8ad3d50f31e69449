"""KPI definitions and their registry.

How to add a KPI (``results.py`` and ``intake.py`` are recent examples):

1. In ``apps/kpis/definitions/<workflow>.py`` add the per-item columns your KPIs need to the
   shared transition-log source (``log.log_column_register``: an aggregate over the item's
   transitions, e.g. the first time it reached a state) and register the workflow's closed
   states (``log.closed_states_register``). Every KPI on that source is computed from one
   scan of the log, or of its per-item rollup (``apps.kpis.rollup``) once built: a column whose
   value changes with the clock alone (``now``) must say when (``changes_at``). Data that is not
   in the log (EHR messages) gets its own ``Source``: one ``SELECT`` with one row per item,
   which may use the ``bounds(site_id, lo, hi)`` CTE (each
   site's period in UTC from its local dates) and ``SECS(end, start)`` (seconds, either database).
2. Declare each ``Kpi`` on that source: ``value`` (an SQL expression over the item row ``i``: seconds
   for a duration, 0/1 for a rate, a number for a mean), ``event`` (the item column whose time
   places the item in a period and a week), ``kind`` (median, p90, rate, mean, count), unit,
   target, which direction is better, and the definition text shown on the page. Register it
   with ``kpi_register``. Nothing else changes: the scorecard, trend, chart, drill-down, CSV
   and comparison come from the engine (``apps.kpis.engine``).
3. A backlog (open items, their age) uses ``Kind.OPEN_COUNT`` / ``Kind.OPEN_AGE``; anything else
   that is not "events in a period" sets ``snapshot`` to a function ``(scope) -> Result``
   (see ``integration.py``).
4. Import the module in ``KpisConfig.ready()`` and test it on a small hand-made history.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Group:
    CLINICAL = "clinical"
    OPERATIONAL = "operational"
    TECHNICAL = "technical"
    FINANCIAL = "financial"
    LABELS = {
        CLINICAL: "Clinical",
        OPERATIONAL: "Operational",
        FINANCIAL: "Money and capacity",
        TECHNICAL: "Technical",
    }


class Kind:
    MEDIAN = "median"
    P90 = "p90"
    RATE = "rate"  # share of items whose value is 1, in %
    MEAN = "mean"
    COUNT = "count"
    SUM = "sum"  # a total of the items' values (staff hours)
    # Snapshots of open work over the item rows: ``event`` names the opening column and
    # ``value`` the closing one. OPEN_COUNT: items open at the period end (and each week's end);
    # OPEN_AGE: their median age (hours) at the period end, or now for a period not yet over.
    OPEN_COUNT = "open_count"
    OPEN_AGE = "open_age"


@dataclass(frozen=True)
class Source:
    """One row per item; KPIs on the same source are computed from one scan."""

    key: str
    # SELECT ... one row per item (may use the bounds CTE and SECS(end, start)); a callable is
    # called when a scorecard runs, so modules can add columns to a shared source.
    sql: str | Callable[[], str]
    params: tuple = ()
    site_scoped: bool = True
    service_line_column: str = ""  # a column of the item rows to filter by service line
    # An SQL condition over an item row ``s``: the item was entered by hand (a fax or phone
    # referral, a walk-in), not received from the EHR; empty when the source has none.
    by_hand: str = ""
    drill_columns: tuple[str, ...] = ("item_id", "site_id", "patient_ref")
    patient_data: bool = True  # drill-down rows name patients (access-logged)
    # Read from the per-item rollup when there is a usable one (``apps.kpis.rollup``: the log source).
    rollup: bool = False


@dataclass(frozen=True)
class Kpi:
    key: str
    name: str
    group: str
    unit: str  # "h", "d", "%", "items", "per referral"
    better: str  # "lower" or "higher"
    target: float | None
    definition: str
    source: str = ""
    kind: str = Kind.MEDIAN
    value: str = ""  # SQL over the item row, columns as ``i.<column>`` (backlogs: the closing column)
    event: str = ""  # item column that places it in the period
    scale: float = 1.0  # divide the value by this for display (3600: seconds → hours)
    # A join for values not in the item rows, applied after the period filter (alias ``i``).
    join: str = ""
    snapshot: Callable[[Any], Any] | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def has_items(self) -> bool:
        """Whether the number rests on a list of items one can drill down to."""
        return self.snapshot is None and self.kind not in (Kind.OPEN_COUNT, Kind.OPEN_AGE)

    @property
    def is_better_lower(self) -> bool:
        return self.better == "lower"

    def meets(self, value: float | None, target: float | None = None) -> bool | None:
        """Whether a value meets ``target`` (by default the shipped one; None when there is no
        value or no target)."""
        target = self.target if target is None else target
        if value is None or target is None:
            return None
        return value <= target if self.is_better_lower else value >= target


_sources: dict[str, Source] = {}
_kpis: dict[str, Kpi] = {}


def source_register(source: Source) -> Source:
    _sources[source.key] = source
    return source


def kpi_register(kpi: Kpi) -> Kpi:
    if kpi.snapshot is None and kpi.source not in _sources:
        raise LookupError(f"KPI {kpi.key!r}: register source {kpi.source!r} first")
    _kpis[kpi.key] = kpi
    return kpi


def kpi_get(key: str) -> Kpi:
    return _kpis[key]


def kpi_all() -> list[Kpi]:
    order = list(Group.LABELS)
    return sorted(_kpis.values(), key=lambda k: order.index(k.group))


def source_get(key: str) -> Source:
    return _sources[key]
