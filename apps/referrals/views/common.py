"""What the worklist and item views share: presentation of times, htmx helpers, and the one way
refused, stale and invalid actions are answered."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from apps.workflow.sla import sla_status
from apps.workflow.web import failure_answer, problem_response

from ..forms import FILTER_KEYS
from ..models import Referral
from ..selectors import queue_label

WORKFLOW = Referral.WORKFLOW
work_required = permission_required("core.work_referrals", raise_exception=True)
COUNTS_CHANGED = "referrals-counts-changed"  # an htmx event: the queue counts refresh at once


# --- presentation -----------------------------------------------------------------------


def span(delta: timedelta) -> str:
    """A duration as a person says it: ``45 min``, ``2 h``, ``3 d``."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


def due_text(referral: Referral, status: str, now: datetime) -> str:
    if status == "paused":
        return "Paused"
    if status == "overdue":
        return f"Overdue by {span(now - referral.due_at)}"
    return f"Due in {span(referral.due_at - now)}"


@dataclass
class Row:
    referral: Referral
    sla: str
    due: str
    age: str
    queue: str

    @property
    def patient(self) -> Any:
        return getattr(self.referral, "patient", None)


def rows_for(referrals: list[Referral]) -> list[Row]:
    now = timezone.now()
    rows = []
    for referral in referrals:
        status = sla_status(referral, now=now)
        due = due_text(referral, status, now)
        rows.append(Row(referral, status, due, span(now - referral.opened_at), queue_label(referral.queue)))
    return rows


def with_query(url: str, params: dict[str, Any] | list[tuple[str, Any]]) -> str:
    return f"{url}?{urlencode(params)}" if params else url


def back_url(request: HttpRequest, default: str) -> str:
    """Where a plain POST returns to: the page it came from (same host only), else ``default``."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return default


def saved_view_url(params: dict[str, Any]) -> str:
    """A saved view's link, its parameters in the form's order (a JSON column may reorder keys)."""
    pairs = [(key, params[key]) for key in (*FILTER_KEYS, "sort") if params.get(key) not in (None, "")]
    return with_query(reverse("referrals:worklist"), pairs)


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# --- errors -----------------------------------------------------------------------------


def problem(
    request: HttpRequest, status: int, message: str, referral_id: int | None = None, reload_url: str = ""
) -> HttpResponse:
    """A refused (403), stale (409) or invalid (400) action: a page, or for htmx the flash area."""
    if not reload_url:
        reload_url = reverse("referrals:detail", args=[referral_id]) if referral_id else reverse("referrals:worklist")
    return problem_response(
        request, status=status, message=message, reload_url=reload_url, page_template="referrals/problem.html"
    )


def failure(request: HttpRequest, exc: Exception, referral_id: int | None) -> HttpResponse:
    status, message = failure_answer(exc, noun="referral")
    return problem(request, status, message, referral_id)


def form_problem(request: HttpRequest, form: forms.Form, referral_id: int) -> HttpResponse:
    errors = "; ".join(f"{form.fields[name].label or name}: {' '.join(map(str, e))}" for name, e in form.errors.items())
    return problem(request, 400, f"Please check the form. {errors}", referral_id)
