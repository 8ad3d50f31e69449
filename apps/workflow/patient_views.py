"""Patient search and the patient page (``patients.py`` holds the reads and their scoping rules).

The search is POSTed and kept in the session, then shown by a GET (post-redirect-get): a name,
MRN or birth date never reaches a URL, where browser history and server logs would keep it.
Every patient shown is access-logged.
"""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from apps.core.access_log import access_log, access_log_listed, access_log_many
from apps.core.emergency import EMERGENCY_PERMISSION
from apps.core.errors import ApplicationError
from apps.core.http import AuthenticatedRequest
from apps.core.models import AccessLog

from . import patients

SEARCH_SESSION_KEY = "clinops_patient_search"
patient_data_required = permission_required("core.view_patient_data", raise_exception=True)


class PatientSearchForm(forms.Form):
    name = forms.CharField(required=False, max_length=100, label="Name", help_text="Family or given name, or both")
    mrn = forms.CharField(required=False, max_length=100, label="MRN")
    birth_date = forms.DateField(
        required=False,
        label="Birth date",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter the birth date as a date, e.g. 1961-03-12."},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("name", "").strip() or data.get("mrn", "").strip() or data.get("birth_date")):
            raise forms.ValidationError("Give a name, an MRN or a birth date.")
        return data


@require_http_methods(["GET", "POST"])
@patient_data_required
def patient_search(request: AuthenticatedRequest) -> HttpResponse:
    """Find a patient at my sites by name, MRN or birth date; actions per role on each match."""
    if request.method == "POST":
        if "clear" in request.POST:
            request.session.pop(SEARCH_SESSION_KEY, None)
            return HttpResponseRedirect(reverse("workflow:patient_search"))
        form = PatientSearchForm(request.POST)
        if not form.is_valid():
            return render(request, "workflow/patient_search.html", _context(request, form, None), status=400)
        data = form.cleaned_data
        request.session[SEARCH_SESSION_KEY] = {
            "name": data["name"].strip(),
            "mrn": data["mrn"].strip(),
            "birth_date": data["birth_date"].isoformat() if data["birth_date"] else "",
        }
        return HttpResponseRedirect(reverse("workflow:patient_search"))
    saved = request.session.get(SEARCH_SESSION_KEY)
    form = PatientSearchForm(saved) if saved else PatientSearchForm()
    hits = None
    if saved and form.is_valid():
        data = form.cleaned_data
        hits = patients.patient_search(
            user=request.user, name=data["name"], mrn=data["mrn"], birth_date=data["birth_date"]
        )
        access_log_many(
            request, entries=[(hit.patient.reference, "patient-search") for hit in hits], action=AccessLog.Action.SEARCH
        )
    return render(request, "workflow/patient_search.html", _context(request, form, hits))


def _context(request: AuthenticatedRequest, form: PatientSearchForm, hits: list[Any] | None) -> dict[str, Any]:
    user = request.user
    rows = [
        {
            "hit": hit,
            "age": patients.patient_age(hit.patient),
            "pick": patients.patient_pick_token(user=user, patient=hit.patient),
        }
        for hit in hits or []
    ]
    return {
        "form": form,
        "searched": hits is not None,
        "rows": rows,
        "can_enter_referral": patients.may_enter_work(user) and user.has_perm("core.work_referrals"),
        "can_add_walk_in": patients.may_enter_work(user) and user.has_perm("core.work_intake"),
        "can_break_glass": user.has_perm(EMERGENCY_PERMISSION),
    }


@require_GET
@patient_data_required
def patient_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """One patient: every referral, intake and result of theirs the user may see, open and closed."""
    patient = patients.patient_get(user=request.user, patient_id=pk)
    items = patients.patient_items(user=request.user, patient=patient)
    access_log(request, patient=patient.reference, what=f"patient:{patient.pk}")
    access_log_listed(request, items, only_patients_shown=False)
    user = request.user
    context = {
        "patient": patient,
        "age": patients.patient_age(patient),
        "open_items": [i for i in items if i.is_open],
        "closed_items": [i for i in items if not i.is_open],
        "pick": patients.patient_pick_token(user=user, patient=patient),
        "can_enter_referral": patients.may_enter_work(user) and user.has_perm("core.work_referrals"),
        "can_add_walk_in": patients.may_enter_work(user) and user.has_perm("core.work_intake"),
    }
    return render(request, "workflow/patient_detail.html", context)


def hand_entry(
    request: AuthenticatedRequest,
    *,
    template: str,
    restart: str,
    what: str,
    form_make: Callable[[str], forms.Form],
    save: Callable[[forms.Form, Any], HttpResponse],
) -> HttpResponse:
    """The two steps of entering work by hand for a patient (a faxed referral, a walk-in).

    Without a patient: the page asks for a search (``workflow/_patient_find.html``), whose results
    link back here with a signed pick token. With one: ``form_make(token)`` builds the details
    form; a valid POST goes to ``save(form, patient)``, which returns the redirect (PRG) or raises
    an ``ApplicationError``/``PermissionDenied`` shown on the form. The patient shown is
    access-logged as ``what``.
    """
    token = request.POST.get("patient") or request.GET.get("patient") or ""
    patient = patients.patient_from_pick(user=request.user, token=token) if token else None
    if token and patient is None:
        messages.warning(request, "That patient choice has expired. Find the patient again.")
        return HttpResponseRedirect(reverse(restart))
    if patient is None:
        return render(request, template, {"patient": None})
    form = form_make(token)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                return save(form, patient)
            except (ApplicationError, PermissionDenied) as exc:
                form.add_error(None, getattr(exc, "message", "") or str(exc))
        status = 400
    access_log(request, patient=patient.reference, what=what)
    context = {"patient": patient, "age": patients.patient_age(patient), "form": form}
    return render(request, template, context, status=status)
