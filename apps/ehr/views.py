"""The integration console: watch the EHR feed (overview), find messages (inbox and outbox
lists, filtered with htmx or plain GET), read one (access-logged: the payload is patient
data), and put failed or dead-lettered ones back in line (POST only).

Only integration admins (``core.administer_integrations``) and superusers get in.
"""

import json
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from apps.core.access_log import access_log
from apps.core.models import User

from . import selectors, selectors_v2
from .forms import InboxFilterForm, OutboxFilterForm
from .models import Hl7AppAck, Hl7Message, InboxMessage, OutboxMessage
from .services import replay, retention

admin_required = permission_required("core.administer_integrations", raise_exception=True)

PERIODS: dict[str, tuple[timedelta, str]] = {
    "24h": (timedelta(hours=24), "Last 24 hours"),
    "7d": (timedelta(days=7), "Last 7 days"),
    "30d": (timedelta(days=30), "Last 30 days"),
}
INBOX_RETRYABLE = {s.value for s in replay.RETRYABLE}
OUTBOX_RETRYABLE = {OutboxMessage.Status.FAILED, OutboxMessage.Status.DEAD}


def _partial(request: HttpRequest) -> bool:
    """An htmx swap of the results (not a history restore, which needs the whole page)."""
    htmx = getattr(request, "htmx", None)
    return htmx is not None and bool(htmx) and not htmx.history_restore_request


def _render(request: HttpRequest, full: str, part: str, context: dict[str, Any]) -> HttpResponse:
    response = render(request, part if _partial(request) else full, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _back(request: HttpRequest, default: str) -> str:
    """Where to go after a POST: the page it came from (same host only), else ``default``."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return default


def _selected_ids(request: HttpRequest) -> list[int]:
    return sorted({int(v) for v in request.POST.getlist("ids") if v.isdigit()})


def _with_query(url: str, pairs: list[tuple[str, str]]) -> str:
    return f"{url}?{urlencode(pairs)}" if pairs else url


def _list_context(request: HttpRequest, form: Any, page: selectors.MessagePage, list_url: str, retryable: set) -> dict:
    pairs = form.query_pairs()
    after = request.GET.get("after", "")
    return {
        "form": form,
        "page": page,
        "filter_pairs": pairs,
        # Where a retry returns to: this very page of this filter.
        "this_url": _with_query(list_url, [*pairs, *([("after", after)] if after else [])]),
        "first_url": _with_query(list_url, pairs),
        "next_url": _with_query(list_url, [*pairs, ("after", page.next_cursor)]) if page.next_cursor else "",
        "retryable": retryable,
    }


def _status_links(
    url: str, source: str, choices: list, counts: dict[str, int], *, key: str = "status"
) -> list[tuple[str, int, str, str]]:
    """(label, count, link to the list filtered by source and status, status) per status."""
    return [
        (label, counts[value], _with_query(url, [("source", source), (key, value)]), value) for value, label in choices
    ]


# --- overview ------------------------------------------------------------------------


@require_GET
@admin_required
def console(request: HttpRequest) -> HttpResponse:
    period = request.GET.get("period", "24h")
    if period not in PERIODS:
        period = "24h"
    until = timezone.now()
    since = until - PERIODS[period][0]
    stats = selectors.integration_stats(since=since, until=until)
    counts = selectors.message_status_counts()
    inbox_url, outbox_url = reverse("ehr:inbox_list"), reverse("ehr:outbox_list")
    v2_counts = selectors_v2.hl7_status_counts()
    app_ack_counts = selectors_v2.hl7_app_ack_status_counts()
    v2_url = reverse("ehr:hl7_list")
    sources = []
    for row in stats:
        count = counts.get(row.source_id) or selectors.StatusCounts()
        sources.append(
            {
                "stats": row,
                "inbox": _status_links(inbox_url, row.source_name, InboxMessage.Status.choices, count.inbox),
                "outbox": _status_links(outbox_url, row.source_name, OutboxMessage.Status.choices, count.outbox),
                "dead_url": _with_query(inbox_url, [("source", row.source_name), ("status", "dead")]),
                "hl7": _status_links(v2_url, row.source_name, Hl7Message.Status.choices, v2_counts[row.source_id])
                if row.source_id in v2_counts
                else [],
                "app_acks": _status_links(
                    v2_url, row.source_name, Hl7AppAck.Status.choices, app_ack_counts[row.source_id], key="app_ack"
                )
                if row.source_id in app_ack_counts
                else [],
            }
        )
    context = {
        "sources": sources,
        "period": period,
        "period_label": PERIODS[period][1],
        "periods": [(key, label) for key, (_, label) in PERIODS.items()],
        "since": since,
        "until": until,
        "attention": ("failed", "dead", "error", "rejected"),  # states shown in colour when any message is in them
    }
    return render(request, "ehr/console.html", context)


# --- inbox ---------------------------------------------------------------------------


@require_GET
@admin_required
def inbox_list(request: HttpRequest) -> HttpResponse:
    form = InboxFilterForm(request.GET or None)
    page = selectors.inbox_list(filters=form.filters(), after=request.GET.get("after"))
    context = _list_context(request, form, page, reverse("ehr:inbox_list"), INBOX_RETRYABLE)
    return _render(request, "ehr/inbox_list.html", "ehr/_inbox_results.html", context)


@require_GET
@admin_required
def inbox_detail(request: HttpRequest, pk: int) -> HttpResponse:
    message = selectors.inbox_get(message_id=pk)
    document = selectors.payload_document(message.payload)
    patient = selectors.patient_reference(
        resource_type=message.resource_type, resource_id=message.resource_id, document=document
    )
    access_log(request, patient=patient, what=f"inbox:{message.pk}")
    payload = json.dumps(document, indent=2, ensure_ascii=False) if document is not None else message.payload
    context = {
        "message": message,
        "payload": payload,
        "payload_is_json": document is not None,
        "failures": selectors.message_failures(message),
        "retryable": message.status in INBOX_RETRYABLE,
        "this_url": reverse("ehr:inbox_detail", args=[message.pk]),
    }
    return render(request, "ehr/inbox_detail.html", context)


@require_POST
@admin_required
def inbox_retry(request: HttpRequest) -> HttpResponse:
    back = _back(request, reverse("ehr:inbox_list"))
    ids = _selected_ids(request)
    if not ids:
        messages.warning(request, "Select at least one message to retry.")
        return HttpResponseRedirect(back)
    count = replay.inbox_retry(message_ids=ids, by=cast(User, request.user))
    text = f"Queued {_plural(count, 'message')} for retry."
    if count < len(ids):
        text += f" {_plural(len(ids) - count, 'other message')} left alone: already processed or gone."
    (messages.success if count else messages.warning)(request, text)
    return HttpResponseRedirect(back)


@require_POST
@admin_required
def inbox_hold(request: HttpRequest, pk: int) -> HttpResponse:
    """Place the message under legal hold (``hold=1``) or lift it (``hold=0``); back to the message."""
    hold = request.POST.get("hold")
    if hold not in ("0", "1"):
        return HttpResponseBadRequest("Say hold=1 to place the legal hold or hold=0 to lift it.")
    try:
        message = retention.inbox_legal_hold_set(message_id=pk, hold=hold == "1", by=cast(User, request.user))
    except InboxMessage.DoesNotExist as exc:
        raise Http404("No such inbox message.") from exc
    if message.legal_hold:
        messages.success(request, "This message is under legal hold: the daily pruning will keep it.")
    else:
        messages.success(request, "Legal hold lifted: the message follows its source's retention again.")
    return HttpResponseRedirect(reverse("ehr:inbox_detail", args=[pk]))


@require_POST
@admin_required
def inbox_replay(request: HttpRequest) -> HttpResponse:
    """Step 1 (no ``confirm``): show how many dead letters match. Step 2: replay them."""
    form = InboxFilterForm(request.POST)
    filters = form.filters()
    pairs = form.query_pairs()
    back = _with_query(reverse("ehr:inbox_list"), pairs)
    confirmed = request.POST.get("confirm") == "yes"
    if form.errors and confirmed:
        # A filter that was not understood would be dropped and widen the replay: refuse.
        messages.error(request, "Fix the filters before replaying: some were not understood.")
        return HttpResponseRedirect(back)
    if not confirmed:
        context = {
            "form": form,
            "count": 0 if form.errors else selectors.inbox_dead_count(filters=filters),
            "filter_pairs": pairs,
            "back": back,
            "status_filter": filters.get("status", ""),
        }
        return _render(request, "ehr/inbox_replay.html", "ehr/_inbox_replay_confirm.html", context)
    count = replay.inbox_replay(filters=filters, by=cast(User, request.user))
    if count:
        messages.success(request, f"Queued {_plural(count, 'dead letter')} for replay.")
    else:
        messages.info(request, "No dead letters matched this filter; nothing was replayed.")
    return HttpResponseRedirect(back)


# --- outbox --------------------------------------------------------------------------


@require_GET
@admin_required
def outbox_list(request: HttpRequest) -> HttpResponse:
    form = OutboxFilterForm(request.GET or None)
    page = selectors.outbox_list(filters=form.filters(), after=request.GET.get("after"))
    context = _list_context(request, form, page, reverse("ehr:outbox_list"), OUTBOX_RETRYABLE)
    return _render(request, "ehr/outbox_list.html", "ehr/_outbox_results.html", context)


@require_GET
@admin_required
def outbox_detail(request: HttpRequest, pk: int) -> HttpResponse:
    message = selectors.outbox_get(message_id=pk)
    patient = selectors.patient_reference(
        resource_type=message.resource_type, resource_id=message.resource_id, document=message.changes
    )
    access_log(request, patient=patient, what=f"outbox:{message.pk}")
    context = {
        "message": message,
        "changes": json.dumps(message.changes, indent=2, ensure_ascii=False),
        "failures": selectors.message_failures(message),
        "retryable": message.status in OUTBOX_RETRYABLE,
        "this_url": reverse("ehr:outbox_detail", args=[message.pk]),
    }
    return render(request, "ehr/outbox_detail.html", context)


@require_POST
@admin_required
def outbox_retry(request: HttpRequest) -> HttpResponse:
    back = _back(request, reverse("ehr:outbox_list"))
    ids = _selected_ids(request)
    if not ids:
        messages.warning(request, "Select at least one message to retry.")
        return HttpResponseRedirect(back)
    count = replay.outbox_retry(message_ids=ids, by=cast(User, request.user))
    text = f"Queued {_plural(count, 'message')} for retry."
    if count < len(ids):
        text += f" {_plural(len(ids) - count, 'other message')} left alone: already sent or gone."
    (messages.success if count else messages.warning)(request, text)
    return HttpResponseRedirect(back)
