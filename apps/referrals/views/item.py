"""The item page: the patient (access-logged), the referral, its documents, outreach, notes and
timeline, and only the actions the user may take now, each a POST to one service."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from apps.core.access_log import access_log
from apps.core.errors import ApplicationError
from apps.core.http import AuthenticatedRequest
from apps.core.roles import can_see_patient_data
from apps.workflow import services as work
from apps.workflow.models import OUTREACH_FAILED
from apps.workflow.outreach import outreach_list
from apps.workflow.permissions import can
from apps.workflow.registry import workflow_policy
from apps.workflow.selectors import patient_get
from apps.workflow.sla import sla_status
from apps.workflow.web import STALE, partial

from .. import selectors, services
from ..forms import (
    DECLINE_REASONS,
    CancelForm,
    DeclineForm,
    ForwardForm,
    MergeForm,
    NoteForm,
    OutreachForm,
    ReasonNoteForm,
    RequestInfoForm,
)
from ..models import Referral, SlotOffer, WaitListEntry
from ..selectors import queue_label
from ..services import booking
from ..workflow import State
from .common import (
    COUNTS_CHANGED,
    WORKFLOW,
    due_text,
    failure,
    form_problem,
    span,
    work_required,
)

# --- the item page ----------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """A staff action on the item page: its button, its form (if it asks for something), its service."""

    label: str
    done: str
    service: Callable[..., Any]
    form: type[forms.Form] | None = None
    args: Callable[[dict[str, Any]], dict[str, Any]] = lambda data: {}
    style: str = ""
    asks: bool = False  # shown as a small form (details) rather than a single button


def _note(data: dict[str, Any]) -> dict[str, Any]:
    return {"note": data.get("note", "")}


ACTIONS: dict[str, Action] = {
    "triage": Action("Start triage", "Triage started.", services.referral_triage, style="primary"),
    "accept": Action("Accept", "Accepted.", services.referral_accept, ReasonNoteForm, _note, "primary"),
    "start_scheduling": Action(
        "Start scheduling", "Ready to schedule.", services.referral_start_scheduling, style="primary"
    ),
    "request_auth": Action(
        "Needs authorisation", "Waiting for authorisation.", services.referral_request_auth, ReasonNoteForm, _note
    ),
    "authorize": Action(
        "Authorisation received", "Authorised: on to scheduling.", services.referral_authorize, ReasonNoteForm, _note,
        "primary",
    ),
    "receive_info": Action(
        "Information received", "Back in triage; the SLA clock runs again.", services.referral_receive_info,
        ReasonNoteForm, _note, "primary",
    ),
    "request_info": Action(
        "Ask the referrer…", "Sent back to the referrer; the SLA clock is paused.", services.referral_request_info,
        RequestInfoForm, lambda d: {"question": d["question"]}, asks=True,
    ),
    "forward": Action(
        "Forward…", "Forwarded to another service line.", services.referral_forward, ForwardForm,
        lambda d: {"service_line_code": d["service_line"], "reason": d["reason"]}, asks=True,
    ),
    "merge": Action(
        "Merge into the duplicate…", "Merged: this referral is closed as a duplicate.", services.referral_merge,
        MergeForm, lambda d: {"into_id": d["into"], "note": d["note"]}, "danger", asks=True,
    ),
    "decline": Action(
        "Decline…", "Declined.", services.referral_decline, DeclineForm,
        lambda d: {"reason_code": d["reason_code"], "note": d["note"]}, "danger", asks=True,
    ),
    "cancel": Action(
        "Cancel referral…", "Cancelled.", services.referral_cancel, CancelForm, lambda d: {"reason": d["reason"]},
        "danger", asks=True,
    ),
    "confirm": Action(
        "Patient confirmed", "The patient confirmed the appointment.", booking.referral_confirm, style="primary",
    ),
    "cancel_appointment": Action(
        "Cancel the appointment…", "Appointment cancelled: the EHR is told and the referral is back in scheduling.",
        booking.referral_cancel_appointment, CancelForm, lambda d: {"reason": d["reason"]}, "danger", asks=True,
    ),
    "abandon": Action(
        "Abandon…", "Abandoned: the patient could not be reached.", services.referral_abandon, ReasonNoteForm,
        lambda d: {"reason": d["note"]}, "danger", asks=True,
    ),
}  # fmt: skip
# The way forward first, then questions and forwarding, then the ways out.
ACTION_ORDER = list(ACTIONS)


def _action_form(name: str, referral: Referral, data: Any = None) -> forms.Form | None:
    form_class = ACTIONS[name].form
    if form_class is None:
        return None
    kwargs: dict[str, Any] = {"referral": referral} if form_class in (ForwardForm, MergeForm) else {}
    return form_class(data, prefix=name, **kwargs)


STATE_LABELS = dict(State.choices)


def _timeline_entries(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Timeline events as lines to show: when, what kind, what happened, who, the detail."""
    entries = []
    for event in events:
        entry = {"at": event["at"], "kind": event["kind"]}
        if event["kind"] == "transition":
            t = event["transition"]
            title = workflow_policy(Referral.WORKFLOW).done_label(t.transition)
            if t.from_state and t.from_state != t.to_state:
                before, after = STATE_LABELS.get(t.from_state, t.from_state), STATE_LABELS.get(t.to_state, t.to_state)
                title += f": {before} → {after}"
            elif t.transition == "move":
                title += f" to {queue_label(t.queue)}"
            who = str(t.actor) if t.actor else {"ehr": "EHR", "timer": "SLA timer"}.get(t.source, "System")
            entry.update(label="Change", title=title, who=who, detail=t.reason)
        elif event["kind"] == "note":
            n = event["note"]
            entry.update(label="Note", title="", who=str(n.author), detail=n.text)
        else:
            m = event["message"]
            version = f" version {m.version_id}" if m.version_id else ""
            outcome = f", {m.get_outcome_display().lower()}" if m.outcome else ""
            entry.update(
                label="EHR event",
                title=f"{m.resource_type}{version}: {m.get_operation_display().lower()}",
                who="EHR",
                detail=f"{m.get_status_display()}{outcome}",
            )
        entries.append(entry)
    return entries


def _item_context(request: AuthenticatedRequest, referral_id: int) -> dict[str, Any]:
    user = request.user
    referral = selectors.referral_get(user=user, referral_id=referral_id)
    show_patients = can_see_patient_data(user)
    patient = patient_get(referral, user=user)
    if show_patients and referral.patient_ref:
        access_log(request, patient=referral.patient_ref, what=f"referral:{referral.pk}", site=referral.site)
    names = services.allowed_actions(referral, user)
    if referral.is_open and can(user, referral, "work"):
        names.append("forward")
    names.sort(key=lambda name: ACTION_ORDER.index(name) if name in ACTION_ORDER else len(ACTION_ORDER))
    outreach = list(outreach_list(workflow=WORKFLOW, item_id=referral.pk))
    failed = sum(1 for a in outreach if a.outcome in OUTREACH_FAILED)
    now = timezone.now()
    status = sla_status(referral, now=now)
    others = referral.site.service_lines.exclude(pk=referral.service_line_id)  # type: ignore[misc]  # None: all of them
    if "forward" in names and not others.exists():
        names.remove("forward")  # nowhere else to send it
    return {
        "referral": referral,
        "patient": patient,
        "show_patients": show_patients,
        "sla": status,
        "due": due_text(referral, status, now) if referral.is_open else "",
        "age": span(now - referral.opened_at),
        "queue": queue_label(referral.queue),
        "actions": [{"name": n, "spec": ACTIONS[n], "form": _action_form(n, referral)} for n in names if n in ACTIONS],
        "can_claim": can(user, referral, "claim"),
        "can_supervise": user.has_perm("core.supervise_queues"),
        "outreach": outreach,
        "failed_attempts": failed,
        "abandon_after": services.ABANDON_AFTER_ATTEMPTS,
        "outreach_form": OutreachForm(),
        "note_form": NoteForm(),
        "timeline": _timeline_entries(selectors.referral_timeline(referral=referral)),
        "documents": list(selectors.referral_documents(referral=referral)[:50]) if show_patients else [],
        "requester_name": selectors.referral_requester_name(referral=referral),
        "service_request": referral.service_request,
        "next_step": workflow_policy(WORKFLOW).next_step(referral),
        "appointment": booking.appointment_of(referral),
        "on_wait_list": WaitListEntry.objects.filter(referral=referral, active=True).exists(),
        "open_offer": referral.slot_offers.filter(status=SlotOffer.Status.OPEN).first(),
        "can_book": referral.state in (State.SCHEDULING, State.SCHEDULED, State.CONFIRMED)
        and can(user, referral, "work")
        and not referral.entered_by_hand,
        "decline_reason": dict(DECLINE_REASONS).get(referral.decline_reason, referral.decline_reason),
    }


def item_response(request: AuthenticatedRequest, referral_id: int, flash: str = "") -> HttpResponse:
    context = _item_context(request, referral_id)
    context["flash"] = flash
    return render(request, "referrals/_item.html", context)


def _after_change(request: AuthenticatedRequest, referral_id: int, done: str) -> HttpResponse:
    if partial(request):
        response = item_response(request, referral_id, done)
        response["HX-Trigger"] = COUNTS_CHANGED
        return response
    messages.success(request, done)
    return HttpResponseRedirect(reverse("referrals:detail", args=[referral_id]))


@require_GET
@work_required
def detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return render(request, "referrals/item.html", _item_context(request, pk))


@require_POST
@work_required
def act(request: AuthenticatedRequest, pk: int, action: str) -> HttpResponse:
    """Fire one staff action (only those the item page offers are meaningful; services decide)."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404("No such action.")
    referral = selectors.referral_get(user=request.user, referral_id=pk)
    form = _action_form(action, referral, request.POST)
    if form is not None and not form.is_valid():
        return form_problem(request, form, referral.pk)
    try:
        spec.service(referral_id=referral.pk, by=request.user, **spec.args(form.cleaned_data if form else {}))
    except (PermissionDenied, ApplicationError, *STALE) as exc:
        return failure(request, exc, referral.pk)
    return _after_change(request, referral.pk, spec.done)


@require_POST
@work_required
def outreach(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    referral = selectors.referral_get(user=request.user, referral_id=pk)
    form = OutreachForm(request.POST)
    if not form.is_valid():
        return form_problem(request, form, referral.pk)
    try:
        services.referral_outreach_record(referral_id=referral.pk, by=request.user, **form.cleaned_data)
    except (PermissionDenied, ApplicationError) as exc:
        return failure(request, exc, referral.pk)
    done = "Outreach attempt recorded."
    if "abandon" in services.allowed_actions(selectors.referral_get(user=request.user, referral_id=pk), request.user):
        done += " The patient has not been reached: you can abandon this referral now."
    return _after_change(request, referral.pk, done)


@require_POST
@work_required
def note(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    referral = selectors.referral_get(user=request.user, referral_id=pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return form_problem(request, form, referral.pk)
    try:
        work.note_add(workflow=WORKFLOW, item_id=referral.pk, text=form.cleaned_data["text"], by=request.user)
    except (PermissionDenied, ApplicationError) as exc:
        return failure(request, exc, referral.pk)
    return _after_change(request, referral.pk, "Note added.")
