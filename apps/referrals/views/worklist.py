"""The worklist: queues with live counts, filters and keyset pages, row claims and releases,
supervisors' bulk assign and move, and saved views."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from apps.core.access_log import access_log_listed
from apps.core.errors import ApplicationError, ConflictError
from apps.core.http import AuthenticatedRequest
from apps.core.roles import can_see_patient_data
from apps.workflow import services as work
from apps.workflow.selectors import patients_attach
from apps.workflow.web import partial

from .. import selectors
from ..forms import SORT_LABELS, BulkForm, SavedViewForm, WorklistFilterForm
from ..selectors import queue_label
from .common import (
    COUNTS_CHANGED,
    WORKFLOW,
    back_url,
    failure,
    plural,
    problem,
    rows_for,
    saved_view_url,
    with_query,
    work_required,
)
from .item import item_response

# --- the worklist -----------------------------------------------------------------------

PAGE_SIZES = ("25", "50", "100")  # rows per page a user may ask for (?page_size=)


def _worklist_context(request: AuthenticatedRequest) -> dict[str, Any]:
    user = request.user
    workers = list(selectors.referral_workers(user=user))
    form = WorklistFilterForm(request.GET or None, user=user, workers=workers)
    cursor = request.GET.get("cursor") or None
    size = request.GET.get("page_size", "")
    limit = int(size) if size in PAGE_SIZES else selectors.PAGE_SIZE
    page = selectors.referral_worklist(
        user=user, filters=form.filters(), sort=form.sort_key(), cursor=cursor, limit=limit
    )
    access_log_listed(request, page.items)
    params = form.params()
    if limit != selectors.PAGE_SIZE:
        params["page_size"] = str(limit)
    url = reverse("referrals:worklist")
    this_url = with_query(url, {**params, **({"cursor": cursor} if cursor else {})})
    return {
        "form": form,
        "page": page,
        "rows": rows_for(page.items),
        "params": params,
        "this_url": this_url,
        "first_url": with_query(url, params) if cursor else "",
        "next_url": with_query(url, {**params, "cursor": page.next_cursor}) if page.next_cursor else "",
        "show_patients": can_see_patient_data(user),
        "can_supervise": user.has_perm("core.supervise_queues"),
        "sort_label": SORT_LABELS[form.sort_key()],
        "current_site": params.get("site", ""),
        "current_queue": params.get("queue", ""),
        "workers": workers,
    }


@require_GET
@work_required
def worklist(request: AuthenticatedRequest) -> HttpResponse:
    context = _worklist_context(request)
    can_supervise = context["can_supervise"]
    context["bulk_form"] = BulkForm(user=request.user, workers=context["workers"]) if can_supervise else None
    if partial(request):
        response = render(request, "referrals/_results.html", context)
        response["HX-Trigger"] = COUNTS_CHANGED  # the counts follow (highlight the current queue)
    else:
        context["counts"] = selectors.referral_queue_counts(user=request.user)
        context["counts_at"] = timezone.now()
        views = selectors.saved_view_list(user=request.user)
        context["saved_views"] = [{"view": view, "url": saved_view_url(view.params)} for view in views]
        response = render(request, "referrals/worklist.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
@work_required
def counts(request: AuthenticatedRequest) -> HttpResponse:
    """The queue counts, polled every 30 s with X-Clinops-Background (not activity)."""
    context = {
        "counts": selectors.referral_queue_counts(user=request.user),
        "counts_at": timezone.now(),
        "current_site": request.GET.get("site", ""),
        "current_queue": request.GET.get("queue", ""),
    }
    return render(request, "referrals/_counts.html", context)


def _row_response(request: AuthenticatedRequest, referral_id: int) -> HttpResponse:
    """One worklist row, as it is now (its patient shown, so access-logged)."""
    referral = selectors.referral_get(user=request.user, referral_id=referral_id)
    patients_attach([referral], user=request.user)
    access_log_listed(request, [referral])
    context = {
        "row": rows_for([referral])[0],
        "show_patients": can_see_patient_data(request.user),
        "can_supervise": request.user.has_perm("core.supervise_queues"),
        "this_url": request.POST.get("next", reverse("referrals:worklist")),
    }
    return render(request, "referrals/_row.html", context)


def _claim_or_release(request: AuthenticatedRequest, pk: int, *, claim: bool) -> HttpResponse:
    referral = selectors.referral_get(user=request.user, referral_id=pk)
    where = request.POST.get("where", "item")
    try:
        if claim:
            work.item_claim(workflow=WORKFLOW, item_id=referral.pk, by=request.user)
        else:
            work.item_release(workflow=WORKFLOW, item_id=referral.pk, by=request.user)
    except ConflictError as exc:
        if exc.code == "already_claimed":
            exc = ConflictError(selectors.claim_conflict_message(referral_id=referral.pk), code=exc.code)
            if partial(request) and where == "row":
                # The message in the flash area, and the row updated to show who has it.
                back = back_url(request, reverse("referrals:worklist"))
                response = problem(request, 409, exc.message, referral.pk, reload_url=back)
                row = _row_response(request, referral.pk)
                response.content += b"<template>" + _as_oob(row.content) + b"</template>"
                return response
            return problem(request, 409, exc.message, referral.pk)
        return failure(request, exc, referral.pk)
    except (PermissionDenied, ApplicationError) as exc:
        return failure(request, exc, referral.pk)
    done = "Claimed: it is yours now." if claim else "Released back to the queue."
    if partial(request):
        response = _row_response(request, referral.pk) if where == "row" else item_response(request, referral.pk, done)
        response["HX-Trigger"] = COUNTS_CHANGED  # the queue counts refresh at once
        return response
    messages.success(request, done)
    return HttpResponseRedirect(back_url(request, reverse("referrals:detail", args=[referral.pk])))


def _as_oob(row_html: bytes) -> bytes:
    return row_html.replace(b"<tr ", b'<tr hx-swap-oob="true" ', 1)


@require_POST
@work_required
def claim(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _claim_or_release(request, pk, claim=True)


@require_POST
@work_required
def release(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _claim_or_release(request, pk, claim=False)


@require_POST
@work_required
def bulk(request: AuthenticatedRequest) -> HttpResponse:
    """A supervisor assigns or moves the selected referrals, one service call each; says what failed."""
    back = back_url(request, reverse("referrals:worklist"))
    if not request.user.has_perm("core.supervise_queues"):
        raise PermissionDenied("Only a supervisor can assign or move referrals in bulk.")
    form = BulkForm(request.POST, user=request.user)
    if not form.is_valid():
        problems = "; ".join(f"{form.fields[n].label or n}: {' '.join(map(str, e))}" for n, e in form.errors.items())
        chosen = bool(request.POST.getlist("ids"))
        messages.error(request, f"Nothing changed. {problems}" if chosen else "Select referrals first.")
        return HttpResponseRedirect(back)
    data = form.cleaned_data
    ids = sorted(set(data["ids"]))
    in_scope = selectors.referral_ids_in_scope(user=request.user, ids=ids)
    to = None
    if data["action"] == "assign" and data["assignee"] != "none":
        to = selectors.referral_workers(user=request.user).get(pk=int(data["assignee"]))
    done, failed = 0, []
    for referral_id in ids:
        if referral_id not in in_scope:
            failed.append(f"#{referral_id}: not found")
            continue
        try:
            if data["action"] == "assign":
                work.item_reassign(
                    workflow=WORKFLOW, item_id=referral_id, to=to, by=request.user, reason=data["reason"]
                )
            else:
                work.item_move(
                    workflow=WORKFLOW, item_id=referral_id, queue=data["queue"], by=request.user, reason=data["reason"]
                )
            done += 1
        except (PermissionDenied, ApplicationError) as exc:
            failed.append(f"#{referral_id}: {getattr(exc, 'message', '') or exc}")
    what = (f"assigned to {to}" if to else "unassigned") if data["action"] == "assign" else (
        f"moved to {queue_label(data['queue'])}"
    )  # fmt: skip
    text = f"{plural(done, 'referral')} {what}."
    if failed:
        text += f" {plural(len(failed), 'referral')} not changed — " + "; ".join(failed)
    (messages.success if done and not failed else messages.warning)(request, text)
    return HttpResponseRedirect(back)


# --- saved views ------------------------------------------------------------------------


@require_POST
@work_required
def view_save(request: AuthenticatedRequest) -> HttpResponse:
    form = SavedViewForm(request.POST)
    filters = WorklistFilterForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, "Give the view a name (up to 60 characters).")
        return HttpResponseRedirect(back_url(request, reverse("referrals:worklist")))
    view = work.saved_view_save(
        workflow=WORKFLOW, name=form.cleaned_data["name"], params=filters.params(), by=request.user
    )
    messages.success(request, f"Saved the view “{view.name}”.")
    return HttpResponseRedirect(saved_view_url(view.params))


@require_POST
@work_required
def view_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    view = selectors.saved_view_get(user=request.user, view_id=pk)
    work.saved_view_delete(view_id=view.pk, by=request.user)
    messages.success(request, f"Deleted the view “{view.name}”.")
    return HttpResponseRedirect(back_url(request, reverse("referrals:worklist")))
