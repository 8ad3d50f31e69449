"""Governance pages: owners per workflow and site, the friction queue and a reporter's own reports,
the rollout switch with its readiness checklist, and the workarounds the rules flagged."""

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.errors import ApplicationError
from apps.core.http import AuthenticatedRequest
from apps.core.models import ServiceLine, Site
from apps.core.scoping import site_list_for, sites_for
from apps.core.selectors import site_members
from apps.kpis.scope import local_bounds

from . import selectors, services
from .forms import BaselineForm, FrictionForm, OwnersForm, PhaseForm, RespondForm
from .models import Duty, FrictionStatus, Phase, Rule, Workflow
from .readiness import readiness_get
from .workarounds import workarounds_detect

manage_required = permission_required("core.view_aggregates", raise_exception=True)


def _site(request: HttpRequest, code: str) -> Site:
    site = sites_for(request.user).filter(code=code).first()
    if site is None:
        raise Http404("No such site.")
    return site


def _workflow(value: str) -> str:
    if value not in Workflow.values:
        raise Http404("No such workflow.")
    return value


def _line(site: Site, code: str) -> ServiceLine | None:
    if not code:
        return None
    line = site.service_lines.filter(code=code).first()
    if line is None:
        raise Http404("No such service line at this site.")
    return line


def _error(request: HttpRequest, error: ApplicationError) -> None:
    messages.error(request, error.message)


# --- owners -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@manage_required
def owners(request: AuthenticatedRequest, site: str) -> HttpResponse:
    """The owners of one workflow at a site, one per duty: supervisors and leaders set them."""
    place = _site(request, site)
    workflow = request.POST.get("workflow") or request.GET.get("workflow") or Workflow.REFERRAL
    if workflow not in Workflow.values:
        return HttpResponse("No such workflow.", status=400, content_type="text/plain")
    members = list(site_members(site_id=place.pk))
    current = selectors.owners_by_workflow(site_ids=[place.pk])
    status = 200
    if request.method == "POST":
        form = OwnersForm(request.POST, members=members)
        if form.is_valid():
            try:
                changed = services.owners_set(site=place, workflow=workflow, owners=form.owners(), by=request.user)
            except ApplicationError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, f"Saved: {changed} owner{'s' if changed != 1 else ''} changed.")
                return redirect(reverse("governance:owners", args=[place.code]) + f"?workflow={workflow}")
        status = 400
    else:
        named = current.get((place.pk, workflow), {})
        form = OwnersForm(initial={d: u.pk for d, u in named.items()}, members=members)
    table = [
        (Workflow(w).label, w, [current.get((place.pk, w), {}).get(d) for d in Duty.values]) for w in Workflow.values
    ]
    context = {
        "site": place,
        "workflow": workflow,
        "workflow_label": Workflow(workflow).label,
        "form": form,
        "workflows": Workflow.choices,
        "duties": Duty.choices,
        "table": table,
        "sites": site_list_for(request.user),
    }
    return render(request, "governance/owners.html", context, status=status)


# --- friction -----------------------------------------------------------------------------------


def _back(request: HttpRequest, page: str) -> str:
    if page and url_has_allowed_host_and_scheme(page, allowed_hosts={request.get_host()}) and page.startswith("/"):
        return page
    return reverse("governance:friction_mine")


@require_POST
def friction_new(request: AuthenticatedRequest) -> HttpResponse:
    """File a report from the control at the foot of every page, then go back to that page."""
    form = FrictionForm(request.POST)
    page = request.POST.get("page", "")
    if not form.is_valid():
        errors = " ".join(str(e) for es in form.errors.values() for e in es)
        messages.error(request, f"Your report was not sent: {errors}")
        return redirect(_back(request, page))
    data = form.cleaned_data
    try:
        report = services.friction_report(
            by=request.user,
            workflow=data["workflow"],
            note=data["note"],
            site_id=data.get("site"),
            page=data.get("page") or "",
            item_id=data.get("item"),
            severity=data.get("severity") or "",
        )
    except ApplicationError as error:
        messages.error(request, f"Your report was not sent: {error.message}")
        return redirect(_back(request, page))
    owners = selectors.owner_ids(site_id=report.site_id, workflow=report.workflow)
    who = "its owners" if owners else "the site's supervisors (no owner is named yet)"
    messages.success(request, f"Thank you: your report went to {who}. Follow it under “My friction reports”.")
    return redirect(_back(request, page))


@require_GET
def friction_mine(request: HttpRequest) -> HttpResponse:
    """The user's own reports, with each status and reply."""
    reports = list(selectors.friction_mine(user=request.user)[:200])
    return render(request, "governance/friction_mine.html", {"reports": reports})


@require_GET
def friction_queue(request: HttpRequest) -> HttpResponse:
    """The reports of the sites the user handles (owners of a workflow there, supervisors)."""
    if not selectors.owned_site_ids(request.user):
        raise PermissionDenied("The friction queue is for the owners of a workflow and for supervisors.")
    status = request.GET.get("status", "")
    if status not in ("", "all", *FrictionStatus.values):
        return HttpResponse("No such status.", status=400, content_type="text/plain")
    reports = list(selectors.friction_queue(user=request.user, status=status)[:200])
    context = {"reports": reports, "status": status, "statuses": FrictionStatus.choices}
    return render(request, "governance/friction_queue.html", context)


@require_http_methods(["GET", "POST"])
def friction_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """One report: its reporter reads it; a handler acknowledges, closes and replies."""
    report = selectors.friction_get(user=request.user, report_id=pk)
    may_handle = selectors.may_handle(request.user, report)
    status = 200
    form = RespondForm(initial={"reply": report.reply})
    if request.method == "POST":
        if not may_handle:
            raise PermissionDenied("Only the owners of this workflow and the site's supervisors handle this report.")
        form = RespondForm(request.POST)
        if form.is_valid():
            try:
                services.friction_respond(
                    report_id=report.pk,
                    by=request.user,
                    status=form.cleaned_data["status"],
                    reply=form.cleaned_data["reply"],
                )
            except ApplicationError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, "Saved. The reporter sees the status and your reply under their reports.")
                return redirect("governance:friction_detail", pk=report.pk)
        status = 400
    owner_ids = selectors.owner_ids(site_id=report.site_id, workflow=report.workflow)
    context = {
        "report": report,
        "may_handle": may_handle,
        "form": form,
        "has_owners": bool(owner_ids),
        "next_statuses": [(s, FrictionStatus(s).label) for s in services.NEXT.get(report.status, ())],
    }
    return render(request, "governance/friction_detail.html", context, status=status)


# --- rollout ------------------------------------------------------------------------------------


@require_GET
@manage_required
def rollout(request: HttpRequest) -> HttpResponse:
    """Each of the user's sites with its workflows' phases."""
    rows = [(site, selectors.switches_for(site=site)) for site in site_list_for(request.user)]
    return render(request, "governance/rollout.html", {"rows": rows})


def _switch_context(request: HttpRequest, site: str, workflow: str) -> tuple[Site, ServiceLine | None, str]:
    place = _site(request, site)
    line = _line(place, request.GET.get("service_line") or request.POST.get("service_line") or "")
    return place, line, _workflow(workflow)


def _detail_url(place: Site, workflow: str, line: ServiceLine | None) -> str:
    return reverse("governance:rollout_detail", args=[place.code, workflow]) + (
        f"?service_line={line.code}" if line else ""
    )


@require_GET
@manage_required
def rollout_detail(request: HttpRequest, site: str, workflow: str) -> HttpResponse:
    """One switch: its phase, the readiness checklist with the link that fixes each red item, and the
    baseline period."""
    place, line, workflow = _switch_context(request, site, workflow)
    switch = selectors.switch_get(site=place, service_line_id=line.pk if line else None, workflow=workflow)
    checks = readiness_get(switch)
    context = {
        "site": place,
        "line": line,
        "workflow": workflow,
        "workflow_label": Workflow(workflow).label,
        "switch": switch,
        "checks": checks,
        "ready": all(c.ok for c in checks),
        "phases": Phase.choices,
        "lines": place.service_lines.all(),
        "baseline_form": BaselineForm(initial={"start": switch.baseline_start, "end": switch.baseline_end}),
    }
    return render(request, "governance/rollout_detail.html", context)


@require_POST
@manage_required
def rollout_phase(request: AuthenticatedRequest, site: str, workflow: str) -> HttpResponse:
    place, line, workflow = _switch_context(request, site, workflow)
    form = PhaseForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Choose off, pilot or live.", status=400, content_type="text/plain")
    try:
        switch = services.rollout_phase_set(
            site=place, service_line=line, workflow=workflow, phase=form.cleaned_data["phase"], by=request.user
        )
    except ApplicationError as error:
        _error(request, error)
    else:
        messages.success(request, f"{Workflow(workflow).label} at {place.name} is now: {switch.get_phase_display()}.")
    return redirect(_detail_url(place, workflow, line))


@require_POST
@manage_required
def rollout_baseline(request: AuthenticatedRequest, site: str, workflow: str) -> HttpResponse:
    place, line, workflow = _switch_context(request, site, workflow)
    form = BaselineForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The baseline was not saved: give both dates.")
        return redirect(_detail_url(place, workflow, line))
    try:
        services.rollout_baseline_set(
            site=place,
            service_line=line,
            workflow=workflow,
            start=form.cleaned_data["start"],
            end=form.cleaned_data["end"],
            by=request.user,
        )
    except ApplicationError as error:
        _error(request, error)
    else:
        messages.success(request, "Baseline period saved.")
    return redirect(_detail_url(place, workflow, line) + "#baseline")


# --- workarounds ----------------------------------------------------------------------------------

WEEKS_SHOWN = 8


def _weeks() -> list[tuple[Any, Any]]:
    """The last weeks (Monday to Sunday, local dates), newest first."""
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    return [(monday - timedelta(weeks=i), monday - timedelta(weeks=i) + timedelta(days=6)) for i in range(WEEKS_SHOWN)]


@require_GET
@manage_required
def workarounds(request: HttpRequest) -> HttpResponse:
    """Flagged items per site, service line and week, each with the reason it was flagged. Items are
    named by workflow and number only; the item page (for those who see patients) shows the rest."""
    sites = site_list_for(request.user)
    code = request.GET.get("site") or (sites[0].code if sites else "")
    place = next((s for s in sites if s.code == code), None)
    if sites and place is None:
        return HttpResponse("No such site.", status=400, content_type="text/plain")
    line = _line(place, request.GET.get("service_line", "")) if place else None
    rule = request.GET.get("rule", "")
    if rule and rule not in Rule.values:
        return HttpResponse("No such rule.", status=400, content_type="text/plain")
    weeks = _weeks()
    try:
        week = int(request.GET.get("week", "0"))
    except ValueError:
        week = -1
    if not 0 <= week < len(weeks):
        return HttpResponse("Choose one of the weeks listed.", status=400, content_type="text/plain")
    flags: list[Any] = []
    if place is not None:
        lo, hi = local_bounds(*weeks[week], place.timezone)
        flags = list(
            selectors.workaround_flags(
                user=request.user,
                site_ids=[place.pk],
                since=lo,
                until=hi,
                service_line_id=line.pk if line else None,
                rule=rule,
            )[:500]
        )
    context = {
        "sites": sites,
        "site": place,
        "line": line,
        "lines": place.service_lines.all() if place else [],
        "rules": Rule.choices,
        "rule": rule,
        "weeks": list(enumerate(weeks)),
        "week": week,
        "flags": flags,
        "links": {"referral": "referrals:detail", "intake": "intake:detail", "result": "results:detail"},
        "may_detect": request.user.has_perm("core.supervise_queues"),
    }
    return render(request, "governance/workarounds.html", context)


@require_POST
@permission_required("core.supervise_queues", raise_exception=True)
def workarounds_detect_now(request: HttpRequest) -> HttpResponse:
    """Run the rules over the weeks shown now (they also run every night)."""
    since = timezone.now() - timedelta(weeks=WEEKS_SHOWN + 1)
    found = workarounds_detect(since=since, until=timezone.now())
    messages.success(request, f"Looked again: {found} new flag{'s' if found != 1 else ''}.")
    return redirect("governance:workarounds")
