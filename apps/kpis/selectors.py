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


def comparison_get(pilot: Scope, baseline: Scope) -> list[Comparison]:
    """Each KPI over the pilot and the baseline scope, side by side."""
    kpis = kpi_all()
    first, second = engine.evaluate(kpis, pilot), engine.evaluate(kpis, baseline)
    return [Comparison(k, first[k.key], second[k.key]) for k in kpis]


def kpi_result_get(kpi: Kpi, scope: Scope) -> Result:
    """One KPI over the scope, with its weekly trend."""
    return engine.evaluate([kpi], scope)[kpi.key]


def kpi_values_list(kpi: Kpi, scope: Scope) -> list[float]:
    """The per-item values behind a KPI (for its distribution; no item identities)."""
    return engine.values(kpi, scope)


def kpi_items_list(kpi: Kpi, scope: Scope) -> list[dict[str, Any]]:
    """The exact items behind a KPI, each with its patient reference (blank for messages)."""
    rows = engine.items(kpi, scope)
    if kpi.snapshot is not None or not source_get(kpi.source).patient_data:
        return rows
    wanted: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        if not row.get("patient_ref"):
            wanted[row.get("workflow", "referral")].add(row["item_id"])
    models = workflow_models()
    found: dict[tuple[str, int], str] = {}
    for workflow, ids in wanted.items():
        if workflow in models:
            for pk, ref in models[workflow].objects.filter(pk__in=ids).values_list("pk", "patient_ref"):
                found[(workflow, pk)] = ref
    for row in rows:
        row.setdefault("workflow", "referral")
        if not row.get("patient_ref"):
            row["patient_ref"] = found.get((row["workflow"], row["item_id"]), "")
    return rows
