"""Leaders' own targets: reading the one that applies to a scorecard, and setting them.

Which target applies: on a one-site scorecard, the leader's target for that site and the
chosen service line, else the site's own (every service line), else the shipped default. A
scorecard over several sites uses the shipped defaults (sites set their own: the tile says so).
Changes are audited by django-auditlog (every model, with the acting user)."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.formats import date_format
from django.utils.timezone import localtime

from apps.core.keyed_rows import keyed_row_set
from apps.core.models import ServiceLine, Site

from .definitions import Kpi, kpi_all
from .engine import SHIPPED, Result
from .models import KpiTarget, LabourCost, StaffedHours, StandardMinutes
from .scope import Scope


@dataclass(frozen=True)
class TargetRow:
    kpi: Kpi
    value: float | None
    whose: str
    own: KpiTarget | None  # the leader's target at exactly this site and service line


def _whose(target: KpiTarget) -> str:
    user = target.set_by
    name = user.get_full_name() or user.get_username()
    where = target.site.name + (f" · {target.service_line.name}" if target.service_line else "")
    return f"{name}'s target for {where} (set {date_format(localtime(target.set_at))})"


def targets_for(site: Site, service_line_id: int | None) -> dict[str, tuple[float, str]]:
    """kpi key → (value, whose) for the leaders' targets that apply at a site and service line."""
    rows = KpiTarget.objects.filter(site=site).select_related("set_by", "site", "service_line")
    found: dict[str, tuple[float, str]] = {}
    for target in rows.filter(service_line__isnull=True):
        found[target.kpi_key] = (target.value, _whose(target))
    if service_line_id:
        for target in rows.filter(service_line_id=service_line_id):
            found[target.kpi_key] = (target.value, _whose(target))
    return found


def targets_apply(results: list[Result], scope: Scope) -> None:
    """Hold each result to the target that applies to the scope (in place)."""
    if len(scope.sites) != 1:
        for r in results:
            if r.kpi.target is not None:
                r.target_whose = SHIPPED + " (several sites: choose one site for its leaders' targets)"
        return
    found = targets_for(scope.sites[0], scope.service_line_id)
    for r in results:
        if r.kpi.key in found:
            r.target, r.target_whose = found[r.kpi.key]


def target_rows(site: Site, service_line: ServiceLine | None) -> list[TargetRow]:
    """Every KPI with the target that applies at a site and service line, and whose it is."""
    found = targets_for(site, service_line.pk if service_line else None)
    own = {
        t.kpi_key: t for t in KpiTarget.objects.filter(site=site, service_line=service_line).select_related("set_by")
    }
    return [TargetRow(k, *(found.get(k.key) or (k.target, SHIPPED)), own=own.get(k.key)) for k in kpi_all()]


@transaction.atomic
def targets_set(*, by: Any, site: Site, service_line: ServiceLine | None, values: dict[str, float | None]) -> int:
    """Set (a number) or clear (None: back to the fallback) targets; returns how many changed."""
    changed = 0
    for key, value in values.items():
        changed += keyed_row_set(KpiTarget, key={"kpi_key": key, "site": site, "service_line": service_line},
                                 field="value", value=value, by=by)  # fmt: skip
    return changed


# --- standard minutes per staff action (money and capacity) ---------------------------


@dataclass(frozen=True)
class MinutesRow:
    key: tuple[str, str]  # (workflow, action)
    label: str
    default: float
    own: StandardMinutes | None

    @property
    def field(self) -> str:
        return f"m_{self.key[0]}_{self.key[1]}"

    @property
    def whose(self) -> str:
        if self.own is None:
            return SHIPPED
        user = self.own.set_by
        name = user.get_full_name() or user.get_username()
        return f"{name}'s for {self.own.site.name} (set {date_format(localtime(self.own.set_at))})"


WORKFLOW_LABELS = {"referral": "Referral", "result": "Result", "intake": "Intake", "outreach": "Outreach"}


def minutes_rows(site: Site) -> list[MinutesRow]:
    """Every kind of staff action with its shipped default and the site's own minutes, if set."""
    from .definitions.capacity import CHANNEL_MINUTES, OUTREACH, OUTREACH_CHANNELS
    from .definitions.money import STANDARD_MINUTES

    names = dict(OUTREACH_CHANNELS)
    shipped = {**STANDARD_MINUTES, **{(OUTREACH, channel): m for channel, m in CHANNEL_MINUTES.items()}}
    own = {
        (m.workflow, m.action): m for m in StandardMinutes.objects.filter(site=site).select_related("set_by", "site")
    }
    return [
        MinutesRow(
            (w, a), f"{WORKFLOW_LABELS.get(w, w)}: {names.get(a, a.replace('_', ' ')).lower()}", m, own.get((w, a))
        )
        for (w, a), m in shipped.items()
    ]


@transaction.atomic
def minutes_set(*, by: Any, site: Site, values: dict[tuple[str, str], float | None]) -> int:
    """Set (a number) or clear (None: back to the shipped default) a site's minutes; how many changed."""
    changed = 0
    for (workflow, action), minutes in values.items():
        changed += keyed_row_set(StandardMinutes, key={"site": site, "workflow": workflow, "action": action},
                                 field="minutes", value=minutes, by=by)  # fmt: skip
    if changed:  # the rollup's staff minutes are rebuilt; the scorecard reads the log meanwhile
        from .tasks import rollup_refresh_task

        transaction.on_commit(rollup_refresh_task.delay)
    return changed


# --- staffed hours and labour cost (overtime) ------------------------------------------


def staffing_get(site: Site) -> dict[str, Any]:
    """A site's standing weekly staffed hours, its weeks with their own figure, and its cost per hour."""
    figures = list(StaffedHours.objects.filter(site=site).select_related("set_by").order_by("-week_start"))
    return {
        "standing": next((f for f in figures if f.week_start is None), None),
        "weeks": [f for f in figures if f.week_start is not None],
        "cost": LabourCost.objects.filter(site=site).select_related("set_by").first(),
    }


@transaction.atomic
def staffing_set(
    *,
    by: Any,
    site: Site,
    standing: float | None,
    per_hour: Decimal | None,
    week: date | None = None,
    week_hours: float | None = None,
) -> int:
    """Set (a number) or clear (None) a site's standing staffed hours and cost per hour, and set or
    clear one week's own figure (``week``: its Monday); how many changed (audited by django-auditlog)."""
    changed = 0
    figures: list[tuple[date | None, float | None]] = [(None, standing)]
    if week is not None:
        figures.append((week, week_hours))
    for week_start, hours in figures:
        changed += keyed_row_set(StaffedHours, key={"site": site, "week_start": week_start}, field="hours",
                                 value=hours, by=by)  # fmt: skip
    changed += keyed_row_set(LabourCost, key={"site": site}, field="per_hour", value=per_hour, by=by)
    return changed
