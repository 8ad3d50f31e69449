"""The scorecard for leaders and supervisors: tiles, pilot vs baseline, a chart per KPI, and the
items behind a number for those allowed to see patients (access-logged); CSV of both."""

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_http_methods

from apps.core.access_log import access_log_many
from apps.core.csv_cells import csv_writer
from apps.core.models import AccessLog, Site
from apps.core.roles import can_see_patient_data
from apps.core.scoping import sites_for

from . import charts, selectors
from .definitions import Group, kpi_all, kpi_get, source_get
from .forms import MinutesForm, ScorecardForm, StaffingForm, TargetsForm, default_period
from .panels import panels_render
from .scope import Scope
from .targets import minutes_rows, minutes_set, staffing_get, staffing_set, target_rows, targets_set

aggregates_required = permission_required("core.view_aggregates", raise_exception=True)
COLUMN_LABELS = {
    "workflow": "Workflow",
    "item_id": "Item",
    "site": "Site",
    "patient_ref": "Patient",
    "resource_type": "Resource",
    "status": "Status",
    "event_at": "When (site time)",
}


def _form(request: HttpRequest) -> ScorecardForm:
    start, end = default_period(timezone.localdate())
    data = request.GET.copy()
    data.setdefault("start", start.isoformat())
    data.setdefault("end", end.isoformat())
    return ScorecardForm(data, user=request.user)


def _controls(form: ScorecardForm) -> tuple[Any, ...]:
    codes = set(form.cleaned_data.get("controls") or [])
    return tuple(s for s in form.user_sites if s.code in codes)


def _scopes(form: ScorecardForm) -> tuple[Scope, Scope | None]:
    data = form.cleaned_data
    line = data["service_line"].id if data.get("service_line") else None
    hand = {"hand": True, "ehr": False}.get(data.get("entered") or "")
    pilot = Scope(data["start"], data["end"], form.sites(data.get("site", "")), line, hand)
    baseline = None
    if data.get("compare") == "period":
        baseline = Scope(data["base_start"], data["base_end"], pilot.sites, line, hand)
    elif data.get("compare") == "site":
        baseline = Scope(data["start"], data["end"], form.sites(data["base_site"]), line, hand)
    return pilot, baseline


def _kpi(key: str) -> Any:
    try:
        return kpi_get(key)
    except KeyError:
        raise Http404("No such KPI.") from None


@require_GET
@aggregates_required
def scorecard(request: HttpRequest) -> HttpResponse:
    form = _form(request)
    context: dict[str, Any] = {"form": form, "groups": Group.LABELS, "definitions": kpi_all()}
    if not form.is_valid():
        return render(request, "kpis/scorecard.html", context, status=400)
    pilot, baseline = _scopes(form)
    grouped = selectors.scorecard_get(pilot)
    context.update(
        scope=pilot,
        baseline=baseline,
        query=request.GET.urlencode(),
        tiles=[
            (Group.LABELS[group], [(r, charts.sparkline_points(r.weeks)) for r in results])
            for group, results in grouped.items()
        ],
        controls=_controls(form),
        target_site=pilot.sites[0] if len(pilot.sites) == 1 else None,
        panels=panels_render(request, pilot),
        comparison=(
            selectors.comparison_get(pilot, baseline, controls=_controls(form), pilot_card=grouped)
            if baseline
            else None
        ),
    )
    return render(request, "kpis/scorecard.html", context)


@require_GET
@aggregates_required
def export(request: HttpRequest) -> HttpResponse:
    form = _form(request)
    if not form.is_valid():
        return HttpResponse(f"Invalid filters: {form.errors.as_text()}", status=400, content_type="text/plain")
    pilot, baseline = _scopes(form)
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="scorecard-{pilot.start}-{pilot.end}.csv"'
    writer = csv_writer(response)  # formulas are written as text (apps.core.csv_cells)
    head = ["group", "kpi", "unit", "better", "target", "value", "items"]
    if baseline:
        controls = _controls(form)
        writer.writerow(
            [*head, "baseline value", "baseline items", "difference", "difference 95 % low", "difference 95 % high",
             "verdict", "gain fading", "against controls", "against controls 95 % low", "against controls 95 % high",
             "control items", "period", "baseline period"]
        )  # fmt: skip
        for c in selectors.comparison_get(pilot, baseline, controls=controls):
            ci, did = c.interval, c.did
            writer.writerow(
                [*_tile(c.pilot), _blank(c.baseline.value), c.baseline.n, _blank(c.difference),
                 _round(ci.low if ci else None), _round(ci.high if ci else None), c.verdict,
                 "yes" if c.fading else "", _round(did.estimate if did else None),
                 _round(did.low if did else None), _round(did.high if did else None),
                 c.control_n if controls else "", pilot.label(), baseline.label()]
            )  # fmt: skip
    else:
        writer.writerow([*head, "period", *week_labels(pilot)])
        for results in selectors.scorecard_get(pilot).values():
            for r in results:
                writer.writerow([*_tile(r), pilot.label(), *[_blank(v) for v in r.weeks]])
    return response


def week_labels(scope: Scope) -> list[str]:
    """Each week's column heading: its first and last local day (the last week may be short)."""
    labels = []
    for i in range(scope.weeks):
        first = scope.start + timedelta(days=7 * i)
        last = min(first + timedelta(days=6), scope.end)
        labels.append(f"week {date_format(first)} – {date_format(last)}")
    return labels


def _tile(r: Any) -> list[Any]:
    k = r.kpi
    return [Group.LABELS[k.group], k.name, k.unit, k.better, _blank(k.target), _blank(r.value), r.n]


def _round(value: float | None) -> Any:
    return "" if value is None else round(value, 2)


def _blank(value: Any) -> Any:
    return "" if value is None else value


@require_GET
@aggregates_required
def detail(request: HttpRequest, key: str) -> HttpResponse:
    kpi = _kpi(key)
    form = _form(request)
    if not form.is_valid():
        context = {"form": form, "kpi": kpi, "groups": Group.LABELS}
        return render(request, "kpis/detail.html", context, status=400)
    scope, _ = _scopes(form)
    result = selectors.kpi_result_get(kpi, scope)
    figures = {"fig-trend": charts.trend_figure(result, scope.start)}
    values = selectors.kpi_values_list(kpi, scope)
    if values:
        figures["fig-distribution"] = charts.distribution_figure(kpi, values, weeks=result.weeks)
    may_drill = can_see_patient_data(request.user) and kpi.has_items
    items = selectors.kpi_items_list(kpi, scope) if may_drill else None
    if items and source_get(kpi.source).patient_data:
        _log(request, kpi.key, items, AccessLog.Action.LIST)
    context = {
        "form": form,
        "kpi": kpi,
        "scope": scope,
        "result": result,
        "figures": figures,
        "items": items,
        "columns": [COLUMN_LABELS.get(c, f"Value ({kpi.unit})") for c in (items[0] if items else [])],
        "may_drill": may_drill,
        "query": request.GET.urlencode(),
        "groups": Group.LABELS,
    }
    return render(request, "kpis/detail.html", context)


def _log(request: HttpRequest, key: str, items: list[dict[str, Any]], action: str) -> None:
    entries = [(row["patient_ref"], f"kpi:{key}:{row['workflow']}:{row['item_id']}") for row in items]
    access_log_many(request, entries=[e for e in entries if e[0]], action=action)


@require_GET
@aggregates_required
def items_csv(request: HttpRequest, key: str) -> HttpResponse:
    kpi = _kpi(key)
    if not can_see_patient_data(request.user):
        raise PermissionDenied("Only roles that see patients may list the items behind a KPI.")
    form = _form(request)
    if not form.is_valid():
        return HttpResponse(f"Invalid filters: {form.errors.as_text()}", status=400, content_type="text/plain")
    scope, _ = _scopes(form)
    items = selectors.kpi_items_list(kpi, scope)
    if items and kpi.has_items and source_get(kpi.source).patient_data:
        _log(request, kpi.key, items, AccessLog.Action.EXPORT)
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{kpi.key}-{scope.start}-{scope.end}.csv"'
    writer = csv_writer(response)  # formulas are written as text (apps.core.csv_cells)
    columns = list(items[0]) if items else ["item_id", "event_at", "value"]
    writer.writerow([*columns[:-1], f"value ({kpi.unit})"])
    for row in items:
        writer.writerow([row[c].isoformat() if hasattr(row[c], "isoformat") else row[c] for c in columns])
    return response


# --- leaders' targets -------------------------------------------------------------------


def _site(request: HttpRequest, code: str) -> Site:
    site = sites_for(request.user).filter(code=code).first()
    if site is None:
        raise Http404("No such site.")
    return site


@require_http_methods(["GET", "POST"])
@aggregates_required
def targets(request: HttpRequest, site: str) -> HttpResponse:
    """A site's targets per KPI (and per service line): leaders set them, supervisors read them."""
    place = _site(request, site)
    line_code = request.GET.get("service_line") or request.POST.get("service_line") or ""
    line = place.service_lines.filter(code=line_code).first() if line_code else None
    if line_code and line is None:
        return HttpResponse("No such service line at this site.", status=400, content_type="text/plain")
    rows = target_rows(place, line)
    if request.method == "POST":
        if not request.user.has_perm("kpis.set_targets"):
            raise PermissionDenied("Only leaders set targets.")
        form = TargetsForm(request.POST, kpis=[r.kpi for r in rows])
        if form.is_valid():
            changed = targets_set(by=request.user, site=place, service_line=line, values=form.values())
            messages.success(request, f"Saved: {changed} target{'s' if changed != 1 else ''} changed.")
            query = f"?service_line={line.code}" if line else ""
            return redirect(reverse("kpis:targets", args=[place.code]) + query)
        status = 400
    else:
        form = TargetsForm(initial={f"t_{r.kpi.key}": r.own.value for r in rows if r.own}, kpis=[r.kpi for r in rows])
        status = 200
    context = {
        "site": place,
        "line": line,
        "lines": place.service_lines.all(),
        "rows": [(r, form[f"t_{r.kpi.key}"]) for r in rows],
        "form": form,
        "may_set": request.user.has_perm("kpis.set_targets"),
    }
    return render(request, "kpis/targets.html", context, status=status)


@require_http_methods(["GET", "POST"])
@aggregates_required
def standard_minutes(request: HttpRequest, site: str) -> HttpResponse:
    """A site's standard minutes per staff action: leaders set them, supervisors read them."""
    place = _site(request, site)
    rows = minutes_rows(place)
    may_set = request.user.has_perm("kpis.set_targets")
    if request.method == "POST":
        if not may_set:
            raise PermissionDenied("Only leaders set standard minutes.")
        form = MinutesForm(request.POST, actions=[r.key for r in rows])
        if form.is_valid():
            changed = minutes_set(by=request.user, site=place, values=form.values())
            messages.success(request, f"Saved: {changed} standard time{'s' if changed != 1 else ''} changed.")
            return redirect(reverse("kpis:minutes", args=[place.code]))
        status = 400
    else:
        form = MinutesForm(initial={r.field: r.own.minutes for r in rows if r.own}, actions=[r.key for r in rows])
        status = 200
    context = {"site": place, "rows": [(r, form[r.field]) for r in rows], "form": form, "may_set": may_set}
    return render(request, "kpis/minutes.html", context, status=status)


@require_http_methods(["GET", "POST"])
@aggregates_required
def staffing(request: HttpRequest, site: str) -> HttpResponse:
    """A site's staffed hours per week and cost per staff hour (overtime): leaders set them,
    supervisors read them."""
    place = _site(request, site)
    may_set = request.user.has_perm("kpis.set_targets")
    current = staffing_get(place)
    if request.method == "POST":
        if not may_set:
            raise PermissionDenied("Only leaders set staffed hours and the cost of an hour.")
        form = StaffingForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            changed = staffing_set(
                by=request.user, site=place, standing=data["standing"], per_hour=data["per_hour"],
                week=data["week"], week_hours=None if data["clear_week"] else data["week_hours"],
            )  # fmt: skip
            messages.success(request, f"Saved: {changed} figure{'s' if changed != 1 else ''} changed.")
            return redirect(reverse("kpis:staffing", args=[place.code]))
        status = 400
    else:
        initial = {
            "standing": current["standing"].hours if current["standing"] else None,
            "per_hour": current["cost"].per_hour if current["cost"] else None,
        }
        form, status = StaffingForm(initial=initial), 200
    context = {"site": place, "form": form, "may_set": may_set, **current}
    return render(request, "kpis/staffing.html", context, status=status)
