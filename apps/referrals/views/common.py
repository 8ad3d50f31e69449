"""What the item views share: presentation of times and the one way refused, stale and invalid
actions are answered (the worklist itself is the shared one, ``apps.workflow.worklist``)."""

from django import forms
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from apps.workflow.web import failure_answer, problem_response
from apps.workflow.worklist import rows, worklist_spec

from ..models import Referral

WORKFLOW = Referral.WORKFLOW
work_required = permission_required("core.work_referrals", raise_exception=True)
COUNTS_CHANGED = "referrals-counts-changed"  # an htmx event: the queue counts refresh at once


# --- presentation (the shared worklist's, used by the item page) ---------------------------

span, due_text = rows.span, rows.due_text


# --- errors -----------------------------------------------------------------------------


def problem(
    request: HttpRequest, status: int, message: str, referral_id: int | None = None, reload_url: str = ""
) -> HttpResponse:
    """A refused (403), stale (409) or invalid (400) action: a page, or for htmx the flash area."""
    if not reload_url:
        reload_url = reverse("referrals:detail", args=[referral_id]) if referral_id else reverse("referrals:worklist")
    return problem_response(
        request,
        status=status,
        message=message,
        reload_url=reload_url,
        page_template="workflow/problem.html",
        extra={"spec": worklist_spec(WORKFLOW)},
    )


def failure(request: HttpRequest, exc: Exception, referral_id: int | None) -> HttpResponse:
    status, message = failure_answer(exc, noun="referral")
    return problem(request, status, message, referral_id)


def form_problem(request: HttpRequest, form: forms.Form, referral_id: int) -> HttpResponse:
    errors = "; ".join(f"{form.fields[name].label or name}: {' '.join(map(str, e))}" for name, e in form.errors.items())
    return problem(request, 400, f"Please check the form. {errors}", referral_id)
