"""Server-rendered pages: the clinician's results inbox, the results worklist (the shared one), one
result (values beside earlier results, timeline, the next action), and the coverage page.
Every page that shows patient data is access-logged. Every action answers with a redirect and a
message (post-redirect-get), done or refused; a refused form comes back as it was typed; a role
that may not act at all is 403."""

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from apps.core.access_log import access_log, access_log_listed
from apps.core.errors import ApplicationError
from apps.core.http import AuthenticatedRequest
from apps.workflow import services as work
from apps.workflow.registry import workflow_policy
from apps.workflow.selectors import timeline
from apps.workflow.sla import sla_status
from apps.workflow.worklist.rows import due_text, span
from apps.workflow.worklist.views import WorklistViews

from . import selectors, services
from .forms import CloseForm, CoverageForm, FollowUpForm, NoteForm, NotifyForm, ReviewForm
from .models import ResultItem
from .permissions import REVIEW, WORK, can_review, can_view, can_work
from .workflow import TO_REVIEW, State

review_required = permission_required(REVIEW, raise_exception=True)
work_required = permission_required(WORK, raise_exception=True)


def _decorate(items: list[ResultItem]) -> list[ResultItem]:
    """Due and overdue as durations, and the age, as the worklist shows them."""
    now = timezone.now()
    for item in items:
        item.sla = sla_status(item, now=now)  # type: ignore[attr-defined]  # shown by the template
        item.due = due_text(item, item.sla, now)  # type: ignore[attr-defined]
        item.age = span(now - item.opened_at)  # type: ignore[attr-defined]
    return items


@require_GET
@review_required
def inbox(request: AuthenticatedRequest) -> HttpResponse:
    groups = selectors.result_inbox(user=request.user)
    items = [item for group in groups for item in group.items]
    _decorate(items)
    access_log_listed(request, items, only_patients_shown=False)
    return render(request, "results/inbox.html", {"groups": groups, "total": len(items)})


# The worklist: the shared one (apps.workflow.worklist) bound to results. An old link to one of
# the follow-up steps (?step=notify) opens the list filtered by that step's state.
_worklist = WorklistViews(ResultItem.WORKFLOW)
counts, bulk, claim, release = _worklist.counts, _worklist.bulk, _worklist.claim, _worklist.release
view_save, view_delete = _worklist.view_save, _worklist.view_delete


@require_GET
def worklist(request: AuthenticatedRequest) -> HttpResponse:
    step = selectors.MA_STEPS.get(request.GET.get("step", ""))
    if step is not None and _worklist.spec.may_open(request.user):
        return redirect(f"{reverse('results:worklist')}?{urlencode({'state': step[0]})}")
    return _worklist.worklist(request)


FORMS: dict[str, type] = {
    "review_form": ReviewForm,
    "notify_form": NotifyForm,
    "follow_up_form": FollowUpForm,
    "close_form": CloseForm,
    "note_form": NoteForm,
}


def _kept_form(request: AuthenticatedRequest, pk: int) -> dict[str, Any]:
    """The form a refused action left (post-redirect-get keeps what was typed, once)."""
    kept = request.session.pop(f"results:form:{pk}", None)
    if not isinstance(kept, dict) or kept.get("key") not in FORMS:
        return {}
    form = FORMS[kept["key"]](kept.get("data") or {})
    form.is_valid()  # shows the field errors again
    return {kept["key"]: form}


def _item_page(request: AuthenticatedRequest, item: ResultItem, **forms: Any) -> HttpResponse:
    if not can_view(request.user, item):
        raise PermissionDenied("Your role does not see results.")
    access_log(request, patient=item.patient_ref, what=f"result:{item.pk}", site=item.site)
    reviewer, worker = can_review(request.user, item), can_work(request.user, item)
    policy = workflow_policy(item.WORKFLOW)
    events = timeline(item=item)
    for event in events:
        if event["kind"] == "transition":
            event["label"] = policy.done_label(event["transition"].transition)
    context = {
        "item": item,
        "values": selectors.result_values(item=item),
        "events": events,
        "sla": sla_status(item),
        "next_step": policy.next_step(item),
        "can_review": reviewer and item.state in TO_REVIEW,
        "can_take": reviewer and item.state in TO_REVIEW and item.assignee_id != request.user.pk,
        "can_notify": worker and item.state == State.REVIEWED,
        "can_follow_up": worker
        and item.state == State.PATIENT_NOTIFIED
        and item.follow_up in ("repeat_test", "appointment"),
        "can_close": worker and item.state == State.FOLLOW_UP_SCHEDULED,
        "can_note": worker,
        "can_reassign": worker and item.state in TO_REVIEW and request.user.has_perm("core.supervise_queues"),
        "clinicians": selectors.clinicians_at_sites(user=request.user, site_ids=[item.site_id]),
        **{key: forms.get(key) or form_class() for key, form_class in FORMS.items()},
    }
    return render(request, "results/item.html", context)


@require_GET
def detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _item_page(request, selectors.result_get(user=request.user, item_id=pk), **_kept_form(request, pk))


def _act(request: AuthenticatedRequest, pk: int, form_class: type, form_key: str, call: Any, done: str) -> HttpResponse:
    """Post-redirect-get for every action: done or refused, the answer is a redirect with a message
    (Back and reload never resubmit); a refused form comes back filled in as it was sent."""
    item = selectors.result_get(user=request.user, item_id=pk)
    page = reverse("results:detail", args=[item.pk])
    form = form_class(request.POST)
    if not form.is_valid():
        problems = " ".join(f"{form.fields[name].label or name}: {' '.join(map(str, errors))}"
                            for name, errors in form.errors.items())  # fmt: skip
        return _refused(request, item.pk, form_key, form, f"Please check the form. {problems}", page)
    try:
        call(item, form.cleaned_data)
    except PermissionDenied:
        raise
    except (ApplicationError, TransitionNotAllowed, ConcurrentTransition) as exc:
        message = getattr(exc, "message", "") or "This result changed while you were looking at it."
        return _refused(request, item.pk, form_key, form, message, page)
    messages.success(request, done)
    return redirect(reverse("results:inbox") if request.POST.get("next") == reverse("results:inbox") else page)


def _refused(request: AuthenticatedRequest, pk: int, key: str, form: Any, message: str, page: str) -> HttpResponse:
    request.session[f"results:form:{pk}"] = {
        "key": key,
        "data": {name: request.POST.get(name, "") for name in form.fields},
    }
    messages.error(request, message)
    return redirect(page)


@require_POST
def review(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _act(request, pk, ReviewForm, "review_form", lambda item, d: services.result_review(
        item_id=item.pk, by=request.user, follow_up=d["follow_up"], note=d["note"]), "Result reviewed.")  # fmt: skip


@require_POST
def take(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    taken = "The result is in your inbox."
    return _act(request, pk, CloseForm, "close_form",
                lambda item, d: services.result_take(item_id=item.pk, by=request.user), taken)  # fmt: skip


@require_POST
def notify(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _act(request, pk, NotifyForm, "notify_form", lambda item, d: services.result_notify(
        item_id=item.pk, by=request.user, method=d["method"], note=d["note"]), "Notification recorded.")  # fmt: skip


@require_POST
def follow_up(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _act(request, pk, FollowUpForm, "follow_up_form", lambda item, d: services.result_schedule_follow_up(
        item_id=item.pk, by=request.user, note=d["note"]), "Follow-up recorded.")  # fmt: skip


@require_POST
def close(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _act(request, pk, CloseForm, "close_form", lambda item, d: services.result_close(
        item_id=item.pk, by=request.user, note=d["note"]), "Result closed.")  # fmt: skip


@require_POST
def note(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _act(request, pk, NoteForm, "note_form", lambda item, d: work.note_add(
        workflow=ResultItem.WORKFLOW, item_id=item.pk, text=d["text"], by=request.user), "Note added.")  # fmt: skip


@require_POST
def reassign(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    to = request.POST.get("assignee", "")
    return _act(request, pk, CloseForm, "close_form", lambda item, d: services.result_reassign(
        item_id=item.pk, to_id=int(to) if to.isdigit() else 0, by=request.user, reason=d["note"]),
        "Result given to the clinician.")  # fmt: skip


@require_POST
@review_required
def acknowledge(request: AuthenticatedRequest) -> HttpResponse:
    ids = [int(i) for i in request.POST.getlist("items") if i.isdigit()]
    try:
        done = services.results_acknowledge(item_ids=ids, by=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("results:inbox")
    messages.success(request, f"Acknowledged {len(done)} normal result{'s' if len(done) != 1 else ''}.")
    return redirect("results:inbox")


@require_http_methods(["GET", "POST"])
@review_required
def coverage(request: AuthenticatedRequest) -> HttpResponse:
    clinicians = selectors.clinicians_at_sites(user=request.user)
    form = CoverageForm(request.POST or None, clinicians=clinicians)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.coverage_set(by=request.user, covered_by_id=form.cleaned_data["covered_by"].pk,
                                      starts_at=form.cleaned_data["starts_at"], ends_at=form.cleaned_data["ends_at"],
                                      note=form.cleaned_data["note"])  # fmt: skip
            except ApplicationError as exc:  # refused (not a typing mistake): post-redirect-get, like every action
                messages.error(request, exc.message)
            else:
                messages.success(request, "Cover saved: new and escalated results go to your colleague then.")
            return redirect("results:coverage")
        status = 400  # the form's own errors, shown beside the fields
    rows = selectors.coverage_list(user=request.user)
    context = {"form": form, "rows": rows, "no_colleague": not clinicians.exists()}
    return render(request, "results/coverage.html", context, status=status)


@require_POST
@review_required
def coverage_cancel(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    try:
        services.coverage_cancel(coverage_id=pk, by=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Cover ended.")
    return redirect("results:coverage")
