"""The day view (any day's visits at a site, their readiness and what is missing; the front desk
checks patients in and marks no-shows there)
and the item page; one-click actions answer htmx with the changed row or item."""

import datetime as dt
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from apps.core.access_log import access_log, access_log_listed
from apps.core.http import AuthenticatedRequest
from apps.core.roles import can_see_patient_data
from apps.core.scoping import sites_for
from apps.workflow import services as work
from apps.workflow.permissions import can
from apps.workflow.registry import workflow_policy
from apps.workflow.web import partial

from .. import selectors, services
from ..forms import CancelForm, DayForm, NoteForm, OutreachForm
from ..workflow import BEFORE_ARRIVAL, State
from .common import (
    HANDLED,
    failure,
    problem,
    work_required,
)

STATE_LABELS = dict(State.choices)

ACTIONS = {
    "check_in": ("Checked in.", lambda pk, by, data: services.intake_check_in(intake_id=pk, by=by)),
    "no_show": ("Marked as a no-show.", lambda pk, by, data: services.intake_no_show(intake_id=pk, by=by)),
    "cancel": ("Intake cancelled.", lambda pk, by, data: services.intake_cancel(intake_id=pk, by=by,
                                                                              reason=data.get("reason", ""))),
}  # fmt: skip


@require_GET
@work_required
def day(request: AuthenticatedRequest) -> HttpResponse:
    """One day's visits at one of the user's sites (any date), sortable, with readiness."""
    context = _day_context(request, request.GET)
    template = "intake/_day_table.html" if partial(request) else "intake/day.html"
    return render(request, template, context)


def _day_context(request: AuthenticatedRequest, params: Any) -> dict[str, Any]:
    """The day table for ``params`` (site, day: any date, ``today`` or ``tomorrow``, sort); its
    patients are access-logged. A day that is not a date says so and shows today."""
    sites = list(sites_for(request.user))
    asked = DayForm(params or None, sites=sites)
    data = asked.cleaned_data if asked.is_valid() else {}
    site = next((s for s in sites if s.code == data.get("site")), sites[0] if sites else None)
    sort = data.get("sort") or "time"
    context: dict[str, Any] = {"form": asked, "site": site, "sort": sort, "rows": [],
                               "show_patients": can_see_patient_data(request.user),
                               "day_error": " ".join(str(e) for e in asked.errors.get("day", []))}  # fmt: skip
    if site is None:
        return context
    today = selectors.site_today(site)
    asked_day = data.get("day") or "today"
    words = {"today": today, "tomorrow": today + timedelta(days=1)}
    date: dt.date = asked_day if isinstance(asked_day, dt.date) else words[asked_day]
    context.update(date=date, today=today, is_today=date == today, can_arrive=date <= today, arrivable=BEFORE_ARRIVAL,
                   day_name=_day_name(date, today))  # fmt: skip
    # The form shows the date itself (a date input cannot show "today").
    context["form"] = DayForm({"site": site.code, "day": date.isoformat(), "sort": sort}, sites=sites)
    context["form"].is_valid()
    rows = selectors.intake_day(user=request.user, site=site, day=date, sort=sort)
    access_log_listed(request, [row.intake for row in rows])
    context["rows"] = rows
    context["ready"] = sum(1 for r in rows if not r.missing)
    context["open"] = sum(1 for r in rows if r.intake.is_open)

    def url(on: dt.date) -> str:
        return reverse("intake:day") + "?" + urlencode({"site": site.code, "day": on.isoformat(), "sort": sort})

    context.update(this_url=url(date), previous_url=url(date - timedelta(days=1)),
                   next_url=url(date + timedelta(days=1)), today_url=url(today))  # fmt: skip
    return context


def _day_name(date: dt.date, today: dt.date) -> str:
    """``today``, ``tomorrow``, ``yesterday`` or nothing: the date says the rest."""
    return {0: "today", 1: "tomorrow", -1: "yesterday"}.get((date - today).days, "")


def _item_context(request: AuthenticatedRequest, pk: int) -> dict[str, Any]:
    intake = selectors.intake_get(user=request.user, intake_id=pk)
    patient = selectors.intake_patient(user=request.user, intake=intake)
    if patient is not None:
        access_log(request, patient=intake.patient_ref, what=f"intake:{pk}", site=intake.site)
    checks = sorted(intake.checks.all(), key=lambda c: (c.position, c.key))
    return {
        "intake": intake,
        "patient": patient,
        "show_patients": can_see_patient_data(request.user),
        "checks": checks,
        "missing": [c.label for c in checks if not c.done_at],
        "outreach": selectors.intake_outreach(intake=intake),
        "timeline": _labelled(selectors.intake_timeline(intake=intake)),
        "can_work": can(request.user, intake, "work"),
        "can_arrive": intake.state in BEFORE_ARRIVAL and intake.visit_date <= selectors.site_today(intake.site),
        "closed_for_good": intake.state in (State.CANCELLED, State.NO_SHOW),
        "outreach_form": OutreachForm(),
        "note_form": NoteForm(),
        "cancel_form": CancelForm(),
        "visit_local": timezone.localtime(intake.visit_start, intake.site.tzinfo),
        "next_step": workflow_policy(intake.WORKFLOW).next_step(intake),
    }


def _labelled(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for event in events:
        if event["kind"] == "transition":
            name = event["transition"].transition
            event["label"] = workflow_policy("intake").done_label(name)
            event["to_label"] = STATE_LABELS.get(event["transition"].to_state, "")
    return events


@require_GET
@work_required
def detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return render(request, "intake/item.html", _item_context(request, pk))


def _answer(request: AuthenticatedRequest, pk: int, done: str) -> HttpResponse:
    """After a change: the day table (its counts change too), the item page, or a redirect without htmx."""
    back = request.POST.get("next", "")
    if partial(request) and request.POST.get("where") == "day":
        params = QueryDict(urlsplit(back).query) if back.startswith("/intake/") else QueryDict()
        return render(request, "intake/_day_table.html", _day_context(request, params))
    if partial(request):
        return render(request, "intake/_item.html", {**_item_context(request, pk), "flash": done})
    messages.success(request, done)
    return HttpResponseRedirect(back if back.startswith("/intake/") else reverse("intake:detail", args=[pk]))


@require_POST
@work_required
def check(request: AuthenticatedRequest, pk: int, key: str) -> HttpResponse:
    """Tick (done=1) or untick (done=0) one checklist item."""
    selectors.intake_get(user=request.user, intake_id=pk)  # 404 outside the user's sites
    done = request.POST.get("done", "1") != "0"
    try:
        services.intake_check_set(intake_id=pk, key=key, done=done, by=request.user)
    except HANDLED as exc:
        return failure(request, exc, pk)
    return _answer(request, pk, "Done." if done else "Marked as not done.")


@require_POST
@work_required
def outreach(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    selectors.intake_get(user=request.user, intake_id=pk)
    form = OutreachForm(request.POST)
    if not form.is_valid():
        return problem(request, 400, "Choose a channel and an outcome.", pk)
    try:
        services.intake_outreach_record(intake_id=pk, by=request.user, **form.cleaned_data)
    except HANDLED as exc:
        return failure(request, exc, pk)
    return _answer(request, pk, "Outreach attempt recorded.")


@require_POST
@work_required
def note(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    selectors.intake_get(user=request.user, intake_id=pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return problem(request, 400, "A note needs some text.", pk)
    try:
        work.note_add(workflow="intake", item_id=pk, text=form.cleaned_data["text"], by=request.user)
    except HANDLED as exc:
        return failure(request, exc, pk)
    return _answer(request, pk, "Note added.")


@require_POST
@work_required
def act(request: AuthenticatedRequest, pk: int, action: str) -> HttpResponse:
    """Check in, no-show or cancel (with a reason)."""
    selectors.intake_get(user=request.user, intake_id=pk)
    if action not in ACTIONS:
        return problem(request, 404, "No such action.", pk)
    done, call = ACTIONS[action]
    try:
        call(pk, request.user, request.POST)
    except HANDLED as exc:
        return failure(request, exc, pk)
    return _answer(request, pk, done)
