"""Reads for the scorecard: KPI values for a scope, the comparison of two scopes, and the exact
items behind a number (with each item's patient, for the access log)."""

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from apps.workflow.registry import workflow_models

from . import engine
from .definitions import Group, Kpi, kpi_all, source_get
from .engine import Result
from .scope import Scope


@dataclass
class Comparison:
    kpi: Kpi
    pilot: Result
    baseline: Result

    @property
    def difference(self) -> float | None:
        if self.pilot.value is None or self.baseline.value is None:
            return None
        return round(self.pilot.value - self.baseline.value, 2)

    @property
    def better(self) -> bool | None:
        """Whether the pilot is better than the baseline (None when equal or unknown)."""
        if not self.difference:
            return None
        return (self.difference < 0) == self.kpi.is_better_lower


def scorecard_get(scope: Scope) -> dict[str, list[Result]]:
    """Every registered KPI over the scope, grouped clinical / operational / technical."""
    results = engine.evaluate(kpi_all(), scope)
    grouped: dict[str, list[Result]] = {group: [] for group in Group.LABELS}
    for kpi in kpi_all():
        grouped[kpi.group].append(results[kpi.key])
    return {group: rows for group, rows in grouped.items() if rows}


def comparison_get(
    pilot: Scope, baseline: Scope, *, pilot_card: dict[str, list[Result]] | None = None
) -> list[Comparison]:
    """Each KPI over the pilot and the baseline scope, side by side (``pilot_card``: the pilot's
    scorecard when it is already computed)."""
    kpis = kpi_all()
    if pilot_card is None:
        first = engine.evaluate(kpis, pilot)
    else:
        first = {r.kpi.key: r for results in pilot_card.values() for r in results}
    second = engine.evaluate(kpis, baseline)
    return [Comparison(k, first[k.key], second[k.key]) for k in kpis]


def kpi_result_get(kpi: Kpi, scope: Scope) -> Result:
    """One KPI over the scope, with its weekly trend."""
    return engine.evaluate([kpi], scope)[kpi.key]


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
