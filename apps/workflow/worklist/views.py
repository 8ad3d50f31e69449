"""The one worklist of every workflow: queues with live counts, filters and keyset pages, row
claims and releases, bulk actions (supervisors' assign and move, and each workflow's safe ones),
saved views. Each workflow binds these views to its registered ``WorklistSpec`` in its own
views module (``WorklistViews("referral")``) and routes them under its URL namespace.

Every page works without JavaScript (GET filters, POST forms answered with a redirect); with
htmx the filters and pages swap the results and row actions swap their row. Patients are shown
only to patient-facing roles, and every response that shows them writes access-log rows."""

from collections.abc import Callable
from functools import cached_property, wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from apps.core.access_log import access_log_listed
from apps.core.errors import ApplicationError, ConflictError
from apps.core.http import AuthenticatedRequest
from apps.core.roles import can_see_patient_data
from apps.core.scoping import site_ids_for

from .. import services as work
from ..registry import workflow_model
from ..web import failure_answer, partial, problem_response
from . import selectors
from .forms import FILTER_KEYS, SORT_LABELS, BulkForm, SavedViewForm, WorklistFilterForm
from .rows import back_url, plural, rows_for, with_query
from .spec import WorklistSpec, worklist_spec

PAGE_SIZES = ("25", "50", "100")  # rows per page a user may ask for (?page_size=)
ItemResponse = Callable[[AuthenticatedRequest, int, str], HttpResponse]
View = Callable[..., HttpResponse]


class WorklistViews:
    """The worklist views of one workflow. ``item_response(request, pk, done)``, when given,
    answers an htmx claim or release made on the item page (the item, swapped)."""

    def __init__(self, workflow: str, *, item_response: ItemResponse | None = None) -> None:
        self.workflow = workflow
        self.item_response = item_response
        self.worklist = self._view(require_GET, self._worklist)
        self.counts = self._view(require_GET, self._counts)
        self.claim = self._view(self._post_only, lambda request, pk: self._claim_or_release(request, pk, claim=True))
        self.release = self._view(self._post_only, lambda request, pk: self._claim_or_release(request, pk, claim=False))
        self.bulk = self._view(self._post_only, self._bulk)
        self.view_save = self._view(self._post_only, self._view_save)
        self.view_delete = self._view(self._post_only, self._view_delete)

    @cached_property
    def spec(self) -> WorklistSpec:
        return worklist_spec(self.workflow)  # registered in AppConfig.ready(), after this module loads

    def _post_only(self, func: View) -> View:
        """An action: POST only. A GET of its address (the address bar, a reload after an answer
        that was not a redirect) goes back to the list instead of a bare "405 method not allowed"."""

        @wraps(func)
        def view(request: AuthenticatedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method in ("GET", "HEAD"):
                return HttpResponseRedirect(self.spec.url("worklist"))
            return require_POST(func)(request, *args, **kwargs)

        return view

    def _view(self, method: Callable[[View], View], func: View) -> View:
        @wraps(func)
        def view(request: AuthenticatedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not self.spec.may_open(request.user):
                raise PermissionDenied(f"Your role does not work {self.spec.plural}.")
            return func(request, *args, **kwargs)

        return method(view)

    # --- shared pieces --------------------------------------------------------------------

    @property
    def counts_changed(self) -> str:
        """The htmx event after which the queue counts refresh at once."""
        return f"{self.spec.namespace}-counts-changed"

    def _names(self) -> dict[str, str]:
        ns = self.spec.namespace
        return {name: f"{ns}:{name}" for name in ("worklist", "counts", "claim", "release", "detail", "bulk",
                                                  "view_save", "view_delete")}  # fmt: skip

    def _common(self, request: AuthenticatedRequest) -> dict[str, Any]:
        user = request.user
        bulk_actions = self.spec.bulk_actions_for(user)
        supervise = self.spec.may_supervise(user)
        return {
            "spec": self.spec,
            "names": self._names(),
            "counts_changed": self.counts_changed,
            "show_patients": can_see_patient_data(user),
            "can_supervise": supervise,
            "can_claim": user.has_perm(self.spec.work_permission),
            "bulk_actions": bulk_actions,
            "can_bulk": supervise or bool(bulk_actions),
        }

    def problem(self, request: HttpRequest, status: int, message: str, item_id: int | None = None,
                reload_url: str = "") -> HttpResponse:  # fmt: skip
        """A refused (403), stale (409) or invalid (400) action: a page, or for htmx the flash area."""
        if not reload_url:
            reload_url = self.spec.url("detail", item_id) if item_id else self.spec.url("worklist")
        return problem_response(
            request, status=status, message=message, reload_url=reload_url, page_template="workflow/problem.html",
            extra={"spec": self.spec},
        )  # fmt: skip

    def failure(self, request: HttpRequest, exc: Exception, item_id: int | None) -> HttpResponse:
        status, message = failure_answer(exc, noun=self.spec.noun)
        return self.problem(request, status, message, item_id)

    def saved_view_url(self, params: dict[str, Any]) -> str:
        """A saved view's link, its parameters in the form's order (a JSON column may reorder keys)."""
        pairs = [(key, params[key]) for key in (*FILTER_KEYS, "sort") if params.get(key) not in (None, "")]
        return with_query(self.spec.url("worklist"), pairs)

    # --- the list -------------------------------------------------------------------------

    def _context(self, request: AuthenticatedRequest) -> dict[str, Any]:
        spec, user = self.spec, request.user
        workers = list(selectors.worklist_workers(spec=spec, user=user))
        form = WorklistFilterForm(request.GET or None, spec=spec, user=user, workers=workers)
        cursor = request.GET.get("cursor") or None
        size = request.GET.get("page_size", "")
        limit = int(size) if size in PAGE_SIZES else selectors.PAGE_SIZE
        page = selectors.worklist_items(
            spec=spec,
            user=user,
            filters=form.filters(),
            sort=form.sort_key(),
            cursor=cursor,
            limit=limit,
            known=workers,
        )
        access_log_listed(request, page.items)
        params = form.params()
        if limit != selectors.PAGE_SIZE:
            params["page_size"] = str(limit)
        url = spec.url("worklist")
        this_url = with_query(url, {**params, **({"cursor": cursor} if cursor else {})})
        # A site column whenever the list may hold more than one site's items.
        show_site = not params.get("site") and len(site_ids_for(user)) > 1
        context = self._common(request)
        context.update({
            "form": form,
            "page": page,
            "rows": rows_for(spec, page.items),
            "params": params,
            "this_url": this_url,
            "first_url": with_query(url, params) if cursor else "",
            "next_url": with_query(url, {**params, "cursor": page.next_cursor}) if page.next_cursor else "",
            "sort_label": SORT_LABELS[form.sort_key()],
            "current_site": params.get("site", ""),
            "current_queue": params.get("queue", ""),
            "show_site": show_site,
            "workers": workers,
        })  # fmt: skip
        if context["can_supervise"]:
            context["bulk_form"] = BulkForm(spec=spec, workers=workers)
            context["move_queues"] = self._move_queues(page.items)
        return context

    def _move_queues(self, items: list[Any]) -> list[tuple[str, str]]:
        """The queues the listed items may be moved to, from their states (in the workflow's order)."""
        fitting = {queue for item in items for queue in self.spec.queues_for(item) if queue != item.queue}
        return [(value, label) for value, label in self.spec.queues if value in fitting]

    def _worklist(self, request: AuthenticatedRequest) -> HttpResponse:
        context = self._context(request)
        if partial(request):
            response = render(request, "workflow/_results.html", context)
            response["HX-Trigger"] = self.counts_changed  # the counts follow (highlight the current queue)
        else:
            context["counts_lazy"] = True  # the counts panel loads after the list (htmx), not before it
            views = selectors.saved_view_list(spec=self.spec, user=request.user)
            context["saved_views"] = [{"view": view, "url": self.saved_view_url(view.params)} for view in views]
            response = render(request, "workflow/worklist.html", context)
        patch_vary_headers(response, ["HX-Request"])
        return response

    def _counts(self, request: AuthenticatedRequest) -> HttpResponse:
        """The queue counts, loaded after the list and polled every 30 s with X-Clinops-Background (not
        activity); without htmx (the page's link when JavaScript is off), a page of their own."""
        context = {
            "spec": self.spec,
            "names": self._names(),
            "counts_changed": self.counts_changed,
            "counts": selectors.worklist_counts(spec=self.spec, user=request.user),
            "counts_at": timezone.now(),
            "current_site": request.GET.get("site", ""),
            "current_queue": request.GET.get("queue", ""),
        }
        return render(request, "workflow/_counts.html" if partial(request) else "workflow/counts_page.html", context)

    # --- claim and release ----------------------------------------------------------------

    def _row_response(self, request: AuthenticatedRequest, item_id: int, done: str = "") -> HttpResponse:
        """One worklist row, as it is now (its patient shown, so access-logged); the row itself
        says what changed, so ``done`` is not shown."""
        item = selectors.worklist_item_get(spec=self.spec, user=request.user, item_id=item_id)
        access_log_listed(request, [item])
        context = self._common(request)
        context.update({
            "row": rows_for(self.spec, [item])[0],
            "show_site": request.POST.get("site_column") == "1",
            "this_url": request.POST.get("next", self.spec.url("worklist")),
        })  # fmt: skip
        return render(request, "workflow/_row.html", context)

    def _conflict_message(self, item_id: int) -> str:
        """Who holds the item now, and since when (the site's time)."""
        found = workflow_model(self.workflow).objects.select_related("assignee", "site").filter(pk=item_id).first()
        if found is None or found.assignee is None:
            return f"Someone else changed this {self.spec.noun} just now; reload to see who has it."
        claimed = found.claimed_at or timezone.now()
        return f"Already claimed by {found.assignee} at {timezone.localtime(claimed, found.site.tzinfo):%H:%M}."

    def _claim_or_release(self, request: AuthenticatedRequest, pk: int, *, claim: bool) -> HttpResponse:
        spec = self.spec
        item = selectors.worklist_item_get(spec=spec, user=request.user, item_id=pk)
        where = request.POST.get("where", "item")
        try:
            if claim and (refusal := spec.claim_refusal(item)):
                raise ConflictError(refusal, code="not_claimable")
            if claim:
                work.item_claim(workflow=spec.workflow, item_id=item.pk, by=request.user)
            else:
                work.item_release(workflow=spec.workflow, item_id=item.pk, by=request.user)
        except ConflictError as exc:
            if exc.code == "already_claimed":
                message = self._conflict_message(item.pk)
                if partial(request) and where == "row":
                    # The message in the flash area, and the row updated to show who has it.
                    back = back_url(request, spec.url("worklist"))
                    response = self.problem(request, 409, message, item.pk, reload_url=back)
                    row = self._row_response(request, item.pk)
                    response.content += b"<template>" + _as_oob(row.content) + b"</template>"
                    return response
                return self.problem(request, 409, message, item.pk)
            return self.failure(request, exc, item.pk)
        except (PermissionDenied, ApplicationError) as exc:
            return self.failure(request, exc, item.pk)
        done = "Claimed: it is yours now." if claim else "Released back to the queue."
        answer = self._row_response if where == "row" else self.item_response
        if partial(request) and answer is not None:
            response = answer(request, item.pk, done)
            response["HX-Trigger"] = self.counts_changed  # the queue counts refresh at once
            return response
        messages.success(request, done)
        return HttpResponseRedirect(back_url(request, spec.url("detail", item.pk)))

    # --- bulk -----------------------------------------------------------------------------

    def _bulk(self, request: AuthenticatedRequest) -> HttpResponse:
        """Assign, move or a safe bulk action on the selected items, one service call each (or one
        all-or-none call); says what changed and what failed, and why. Always redirects back."""
        spec, user = self.spec, request.user
        back = back_url(request, spec.url("worklist"))
        key = request.POST.get("action", "")
        safe = next((a for a in spec.bulk_actions if a.key == key), None)
        if safe is not None and not user.has_perm(safe.permission):
            raise PermissionDenied(f"Your role does not allow “{safe.label}”.")
        if safe is None and not spec.may_supervise(user):
            raise PermissionDenied(f"Only a supervisor can assign or move {spec.plural} in bulk.")
        workers = list(selectors.worklist_workers(spec=spec, user=user))
        form = BulkForm(request.POST, spec=spec, workers=workers)
        if not form.is_valid():
            chosen = bool(request.POST.getlist("ids"))
            messages.error(request, f"Nothing changed. {form.problems()}" if chosen else f"Select {spec.plural} first.")
            return HttpResponseRedirect(back)
        data = form.cleaned_data
        ids = sorted(set(data["ids"]))
        in_scope = selectors.worklist_items_in_scope(spec=spec, user=user, ids=ids)
        failed = [f"#{item_id}: not found" for item_id in ids if item_id not in in_scope]
        ids = [item_id for item_id in ids if item_id in in_scope]
        if safe is not None and safe.run_all is not None:
            return self._bulk_all(request, safe.run_all, safe.done, ids, failed, data["reason"], back)
        to = None
        if data["action"] == "assign" and data["assignee"] != "none":
            to = next(u for u in workers if str(u.pk) == data["assignee"])
        done = 0
        for item_id in ids:
            try:
                if safe is not None and safe.run is not None:
                    safe.run(item_id=item_id, by=user, reason=data["reason"])
                elif data["action"] == "assign":
                    work.item_reassign(workflow=spec.workflow, item_id=item_id, to=to, by=user, reason=data["reason"])
                else:
                    work.item_move(
                        workflow=spec.workflow, item_id=item_id, queue=data["queue"], by=user, reason=data["reason"]
                    )
                done += 1
            except (PermissionDenied, ApplicationError) as exc:
                failed.append(f"#{item_id}: {getattr(exc, 'message', '') or exc}")
        if safe is not None:
            what = safe.done
        elif data["action"] == "assign":
            what = f"assigned to {to}" if to else "unassigned"
        else:
            what = f"moved to {spec.queue_label(data['queue'])}"
        self._report(request, done, what, failed)
        return HttpResponseRedirect(back)

    def _bulk_all(self, request: AuthenticatedRequest, run_all: Callable[..., Any], done: str, ids: list[int],
                  failed: list[str], reason: str, back: str) -> HttpResponse:  # fmt: skip
        """An all-or-none bulk action: one service call for every selected item in scope."""
        if failed or not ids:
            messages.error(request, f"Nothing changed. {'; '.join(failed) or f'Select {self.spec.plural} first.'}")
            return HttpResponseRedirect(back)
        try:
            run_all(item_ids=ids, by=request.user, reason=reason)
        except (PermissionDenied, ApplicationError) as exc:
            messages.error(request, f"Nothing changed. {getattr(exc, 'message', '') or exc}")
            return HttpResponseRedirect(back)
        self._report(request, len(ids), done, [])
        return HttpResponseRedirect(back)

    def _report(self, request: HttpRequest, done: int, what: str, failed: list[str]) -> None:
        spec = self.spec
        text = f"{plural(done, spec.noun, spec.plural)} {what}."
        if failed:
            text += f" {plural(len(failed), spec.noun, spec.plural)} not changed — " + "; ".join(failed)
        (messages.success if done and not failed else messages.warning)(request, text)

    # --- saved views ----------------------------------------------------------------------

    def _view_save(self, request: AuthenticatedRequest) -> HttpResponse:
        spec = self.spec
        form = SavedViewForm(request.POST)
        workers = list(selectors.worklist_workers(spec=spec, user=request.user))
        filters = WorklistFilterForm(request.POST, spec=spec, user=request.user, workers=workers)
        if not form.is_valid():
            messages.error(request, "Give the view a name (up to 60 characters).")
            return HttpResponseRedirect(back_url(request, spec.url("worklist")))
        view = work.saved_view_save(
            workflow=spec.workflow, name=form.cleaned_data["name"], params=filters.params(), by=request.user
        )
        messages.success(request, f"Saved the view “{view.name}”.")
        return HttpResponseRedirect(self.saved_view_url(view.params))

    def _view_delete(self, request: AuthenticatedRequest, pk: int) -> HttpResponse:
        view = selectors.saved_view_get(spec=self.spec, user=request.user, view_id=pk)
        work.saved_view_delete(view_id=view.pk, by=request.user)
        messages.success(request, f"Deleted the view “{view.name}”.")
        return HttpResponseRedirect(back_url(request, self.spec.url("worklist")))


def _as_oob(row_html: bytes) -> bytes:
    return row_html.replace(b"<tr ", b'<tr hx-swap-oob="true" ', 1)
