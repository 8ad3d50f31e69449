"""Reads for the scorecard: KPI values for a scope, the comparison of two scopes, and the exact
items behind a number (with each item's patient, for the access log)."""

from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from apps.core.models import Site
from apps.workflow.registry import workflow_models

from . import engine, stats
from .definitions import Group, Kind, Kpi, kpi_all, source_get
from .engine import Result
from .scope import Scope
from .targets import targets_apply

FADE_MIN_WEEKS = 4  # a pilot shorter than this is not split into first and last weeks


@dataclass
class Comparison:
    """One KPI, pilot against baseline: counts on each side, the difference with its 95 %
    interval (None where the KPI has no per-item values: counts, backlogs, snapshots), against
    control sites when chosen (difference in differences), and whether an early gain faded."""

    kpi: Kpi
    pilot: Result
    baseline: Result
    interval: stats.Interval | None = None
    did: stats.Interval | None = None
    control_n: int = 0
    fading: bool = False

    @property
    def difference(self) -> float | None:
        if self.interval is not None:
            return round(self.interval.estimate, 2)
        if self.pilot.value is None or self.baseline.value is None:
            return None
        return round(self.pilot.value - self.baseline.value, 2)

    @property
    def better(self) -> bool | None:
        """Whether the pilot is clearly better (True) or worse (False) than the baseline: only when
        the interval leaves zero out; None when it spans zero or cannot be computed."""
        return _clearly_better(self.kpi, self.interval)

    @property
    def did_better(self) -> bool | None:
        return _clearly_better(self.kpi, self.did)

    @property
    def gain(self) -> str:
        """What the difference is worth over the pilot's own volume: staff hours saved (minutes per
        closed item × closed items) or no-shows avoided (rate × visits), with the interval's range;
        overtime avoided (the baseline's overtime less the pilot's)."""
        if "overtime_avoided" in self.kpi.tags:
            return _overtime_avoided(self)
        if self.interval is None or not self.pilot.n:
            return ""
        if "hours_saved" in self.kpi.tags:
            factor, what = self.pilot.n / 60, "staff hours saved"
        elif "no_shows_avoided" in self.kpi.tags:
            factor, what = self.pilot.n / 100, "no-shows avoided"
        else:
            return ""
        est, low, high = (-self.interval.estimate * factor, -self.interval.high * factor, -self.interval.low * factor)
        return f"≈ {est:,.1f} {what} over the pilot's {self.pilot.n:,} items (95 % interval {low:,.1f} to {high:,.1f})"

    @property
    def verdict(self) -> str:
        if not self.pilot.n or not self.baseline.n:
            return "Too few items to compare"
        if self.interval is None:
            if "overtime_avoided" in self.kpi.tags:
                return "No interval (a total over the site-weeks)"
            return "No interval (a count at a point in time)"
        if self.better is None:
            return "No clear difference"
        return "Pilot better" if self.better else "Pilot worse"


def _overtime_avoided(row: Comparison) -> str:
    if row.pilot.value is None or row.baseline.value is None:
        return ""
    avoided = row.baseline.value - row.pilot.value
    what = "overtime hours" if row.kpi.unit == "h" else f"in overtime cost ({row.kpi.unit})"
    word = "avoided" if avoided >= 0 else "more than the baseline"
    return f"{abs(avoided):,.1f} {what} {word} (pilot {row.pilot.value:,.1f}, baseline {row.baseline.value:,.1f})"


def _clearly_better(kpi: Kpi, interval: stats.Interval | None) -> bool | None:
    if interval is None or interval.spans_zero:
        return None
    return (interval.estimate < 0) == kpi.is_better_lower


def _interval(kpi: Kpi, pilot: list[float], baseline: list[float]) -> stats.Interval | None:
    if not pilot or not baseline:
        return None
    if kpi.kind == Kind.RATE:
        k1, k2 = round(sum(pilot)), round(sum(baseline))
        return stats.rate_difference(k1, len(pilot), k2, len(baseline)).scaled(100)  # percentage points
    if kpi.kind in stats.STATISTICS:
        return stats.bootstrap_difference(pilot, baseline, kpi.kind)
    return None


def _did(kpi: Kpi, samples: list[list[float]]) -> stats.Interval | None:
    if not all(samples) or not (kpi.kind == Kind.RATE or kpi.kind in stats.STATISTICS):
        return None
    after, before, control_after, control_before = samples
    if kpi.kind == Kind.RATE:
        return stats.difference_in_differences(after, before, control_after, control_before, "mean").scaled(100)
    return stats.difference_in_differences(after, before, control_after, control_before, kpi.kind)


def _fading(kpi: Kpi, weeks: int, pilot: list[tuple[int, float]], baseline: list[float]) -> bool:
    """A gain that fades: the pilot's first half of weeks is clearly better than the baseline and
    its second half is not."""
    if weeks < FADE_MIN_WEEKS:
        return False
    half = weeks // 2
    first = [v for wk, v in pilot if wk < half]
    last = [v for wk, v in pilot if wk >= weeks - half]
    early, late = _interval(kpi, first, baseline), _interval(kpi, last, baseline)
    return _clearly_better(kpi, early) is True and _clearly_better(kpi, late) is not True


def scorecard_get(scope: Scope) -> dict[str, list[Result]]:
    """Every registered KPI over the scope, grouped clinical / operational / technical."""
    results = engine.evaluate(kpi_all(), scope)
    targets_apply(list(results.values()), scope)
    grouped: dict[str, list[Result]] = {group: [] for group in Group.LABELS}
    for kpi in kpi_all():
        grouped[kpi.group].append(results[kpi.key])
    return {group: rows for group, rows in grouped.items() if rows}


def comparison_get(
    pilot: Scope,
    baseline: Scope,
    *,
    controls: tuple[Site, ...] = (),
    pilot_card: dict[str, list[Result]] | None = None,
) -> list[Comparison]:
    """Each KPI over the pilot and the baseline scope, side by side with the difference's
    interval; with ``controls`` (sites without the pilot), also the difference in differences
    over the same two periods (``pilot_card``: the pilot's scorecard when already computed)."""
    kpis = kpi_all()
    if pilot_card is None:
        first = engine.evaluate(kpis, pilot)
    else:
        first = {r.kpi.key: r for results in pilot_card.values() for r in results}
    second = engine.evaluate(kpis, baseline)
    targets_apply(list(first.values()), pilot)
    targets_apply(list(second.values()), baseline)
    p_values, b_values = engine.item_values(kpis, pilot), engine.item_values(kpis, baseline)
    c_after: dict[str, list[tuple[int, float]]] = {}
    c_before: dict[str, list[tuple[int, float]]] = {}
    if controls:
        c_after = engine.item_values(kpis, replace(pilot, sites=controls))
        c_before = engine.item_values(kpis, replace(baseline, sites=controls))
    out = []
    for k in kpis:
        p = [v for _, v in p_values.get(k.key, [])]
        b = [v for _, v in b_values.get(k.key, [])]
        row = Comparison(k, first[k.key], second[k.key], interval=_interval(k, p, b))
        if k.key in p_values and row.interval is not None:
            row.fading = _fading(k, pilot.weeks, p_values[k.key], b)
        if controls and k.key in c_after:
            ca, cb = [v for _, v in c_after[k.key]], [v for _, v in c_before[k.key]]
            row.did, row.control_n = _did(k, [p, b, ca, cb]), len(ca) + len(cb)
        out.append(row)
    return out


def kpi_result_get(kpi: Kpi, scope: Scope) -> Result:
    """One KPI over the scope, with its weekly trend."""
    result = engine.evaluate([kpi], scope)[kpi.key]
    targets_apply([result], scope)
    return result


def kpi_values_list(kpi: Kpi, scope: Scope) -> list[float]:
    """The per-item values behind a KPI (for its distribution; no item identities)."""
    return engine.values(kpi, scope)


def kpi_items_list(kpi: Kpi, scope: Scope) -> list[dict[str, Any]]:
    """The exact items behind a KPI, largest value first: for work items the workflow, item,
    site, patient and event time in the site's zone; for EHR messages the message and its type."""
    rows = engine.items(kpi, scope)
    source = source_get(kpi.source) if kpi.has_items else None
    if source is None or not source.patient_data:
        zone = scope.sites[0].tzinfo if scope.sites else None
        return [{**row, "event_at": _local(row["event_at"], zone)} for row in rows]
    wanted: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        if not row.get("patient_ref"):
            wanted[row.get("workflow", "referral")].add(row["item_id"])
    models = workflow_models()
    found: dict[tuple[str, int], str] = {}
    for workflow, ids in wanted.items():
        if workflow in models:
            for pk, ref in models[workflow]._default_manager.filter(pk__in=ids).values_list("pk", "patient_ref"):
                found[(workflow, pk)] = ref
    sites = {site.id: site for site in scope.sites}
    out = []
    for row in rows:
        workflow = row.get("workflow", "referral")
        site = sites.get(row["site_id"])
        out.append(
            {
                "workflow": workflow,
                "item_id": row["item_id"],
                "site": site.name if site else "",
                "patient_ref": row.get("patient_ref") or found.get((workflow, row["item_id"]), ""),
                "event_at": _local(row["event_at"], site.tzinfo if site else None),
                "value": row["value"],
            }
        )
    return out


def _local(at: Any, zone: Any) -> str:
    """An event time as the site reads it: ``2026-03-15 23:30 EDT``."""
    if at is None:
        return ""
    return (at.astimezone(zone) if zone else at).strftime("%Y-%m-%d %H:%M %Z")
