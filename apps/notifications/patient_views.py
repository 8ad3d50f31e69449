"""The public pages a patient's link opens, on a phone and without signing in.

Each page is gated by its signed link alone (``login_not_required``; CSRF on): an unknown or
tampered link is 404, an expired or used one 410 with the clinic's number when it is known. A page
shows the patient's first name, the visit's date and time and the clinic; nothing else. Every
form is post/redirect/get: after the POST the link is spent, so the GET that follows shows the
outcome remembered in the session for that link (anyone else gets the 410 page)."""

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from .clinic import clinic_of
from .links import LinkGone, LinkNotFound
from .models import PatientLink
from .patient_actions import (
    LinkPage,
    patient_opt_out_by_link,
    patient_page_open,
    patient_questionnaire_form,
    patient_questionnaire_submit,
    patient_visit_cancel,
    patient_visit_confirm,
)
from .questionnaire import AnswersTooLarge
from .visits import VisitClosed, visit_provider

Purpose = PatientLink.Purpose
DONE_KEY = "clinops_patient_done"
DONE_TEXT: dict[str, tuple[str, str]] = {
    Purpose.CONFIRM: ("Thank you", "Your visit is confirmed. We look forward to seeing you."),
    Purpose.CANCEL: ("Your visit is cancelled", "The time is given to someone else. Call us to book a new one."),
    Purpose.QUESTIONNAIRE: ("Thank you", "Your answers were sent to the clinic."),
    Purpose.STOP_EMAIL: ("No more reminder emails", "You will not get reminder emails from us any more."),
    Purpose.STOP_SMS: ("No more reminder texts", "You will not get reminder texts from us any more."),
}
ASK: dict[str, tuple[str, str, str]] = {
    Purpose.CONFIRM: ("Confirm your visit", "Will you come to your visit?", "Yes, I will come"),
    Purpose.CANCEL: ("Cancel your visit", "Do you want to cancel your visit? The time goes to someone else.",
                     "Cancel my visit"),
    Purpose.STOP_EMAIL: ("Stop reminder emails", "Stop sending me reminder emails.", "Stop the emails"),
    Purpose.STOP_SMS: ("Stop reminder texts", "Stop sending me reminder texts.", "Stop the texts"),
}  # fmt: skip


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(request, f"notifications/patient/{template}", context, status=status)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "same-origin"  # the token never leaks to another site (CSRF needs our own)
    return response


def _refused(request: HttpRequest, exc: Exception) -> HttpResponse:
    if isinstance(exc, LinkNotFound):
        return _render(request, "gone.html", {"title": "Link not found", "found": False}, status=404)
    clinic = None
    if isinstance(exc, VisitClosed) and exc.args:
        clinic = clinic_of(int(exc.args[0]))
    elif isinstance(exc, LinkGone) and exc.link is not None:
        provider = visit_provider(exc.link.workflow)
        visit = provider.get(exc.link.item_id) if provider else None
        clinic = clinic_of(visit.site_id) if visit else None
    return _render(request, "gone.html", {"title": "This link can no longer be used", "found": True,
                                          "clinic": clinic}, status=410)  # fmt: skip


def _done(request: HttpRequest, token: str, purpose: str, page: LinkPage) -> HttpResponse:
    done = request.session.get(DONE_KEY, {})
    done[str(page.link.pk)] = {"purpose": purpose, "site": page.visit.site_id, "first": page.first_name,
                               "when": page.when}  # fmt: skip
    request.session[DONE_KEY] = dict(list(done.items())[-10:])
    return HttpResponseRedirect(request.path)


def _outcome(request: HttpRequest, token: str, purpose: str) -> HttpResponse | None:
    """After the POST: the outcome page for the browser that spent the link (else None)."""
    from django.core import signing

    from .links import SALT

    try:
        link_id = signing.loads(token, salt=SALT + purpose)
    except signing.BadSignature:
        return None
    done = request.session.get(DONE_KEY, {}).get(str(link_id))
    if not done or done.get("purpose") != purpose:
        return None
    title, text = DONE_TEXT[purpose]
    return _render(request, "done.html", {"title": title, "text": text, "first_name": done["first"],
                                          "when": done["when"], "clinic": clinic_of(done["site"])})  # fmt: skip


def _action_view(purpose: str, action: Any) -> Any:
    @login_not_required
    @never_cache
    @require_http_methods(["GET", "POST"])
    def view(request: HttpRequest, token: str) -> HttpResponse:
        try:
            if request.method == "POST":
                page = action(token=token) if purpose not in (Purpose.STOP_EMAIL, Purpose.STOP_SMS) else action(
                    token=token, purpose=purpose)  # fmt: skip
                return _done(request, token, purpose, page)
            page = patient_page_open(token=token, purpose=purpose)
        except (LinkNotFound, LinkGone, VisitClosed) as exc:
            return _outcome(request, token, purpose) or _refused(request, exc)
        title, question, button = ASK[purpose]
        return _render(request, "visit.html", {"page": page, "title": title, "question": question,
                                               "button": button, "danger": purpose == Purpose.CANCEL})  # fmt: skip

    view.__name__ = f"patient_{purpose}_view"
    return view


patient_confirm_view = _action_view(Purpose.CONFIRM, patient_visit_confirm)
patient_cancel_view = _action_view(Purpose.CANCEL, patient_visit_cancel)
patient_stop_email_view = _action_view(Purpose.STOP_EMAIL, patient_opt_out_by_link)
patient_stop_sms_view = _action_view(Purpose.STOP_SMS, patient_opt_out_by_link)


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def patient_questionnaire_view(request: HttpRequest, token: str) -> HttpResponse:
    purpose = Purpose.QUESTIONNAIRE
    errors: dict[str, str] = {}
    try:
        if request.method == "POST":
            try:
                page, qs, errors = patient_questionnaire_submit(token=token, data=request.POST)
            except (AnswersTooLarge, RequestDataTooBig, TooManyFieldsSent):
                return _render(request, "gone.html", {"title": "These answers could not be read", "found": True,
                                                      "too_large": True}, status=400)  # fmt: skip
            if not errors:
                return _done(request, token, purpose, page)
        else:
            page, qs = patient_questionnaire_form(token=token)
    except (LinkNotFound, LinkGone, VisitClosed) as exc:
        return _outcome(request, token, purpose) or _refused(request, exc)
    rows = [{"q": q, "value": request.POST.get(q.field, "") if errors else "", "error": errors.get(q.field, "")}
            for q in qs]  # fmt: skip
    return _render(request, "questionnaire.html", {"page": page, "rows": rows, "errors": bool(errors)},
                   status=400 if errors else 200)  # fmt: skip
