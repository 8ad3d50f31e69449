"""Find a slot and book it from a referral (issue 15): the free slots by day (local store and, when
the source has a base URL, the EHR live), and one POST per booking (post-redirect-get)."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.core.access_log import access_log
from apps.core.errors import ApplicationError
from apps.core.http import AuthenticatedRequest
from apps.workflow.models import OutreachChannel
from apps.workflow.permissions import can
from apps.workflow.selectors import patient_get
from apps.workflow.web import STALE

from .. import selectors
from ..services.booking import referral_book, referral_free_slots, slots_by_day
from ..workflow import HAS_APPOINTMENT, State
from .common import failure, form_problem, work_required

BOOKABLE = (State.SCHEDULING, *HAS_APPOINTMENT)


class BookForm(forms.Form):
    slot = forms.CharField(max_length=200, widget=forms.HiddenInput)
    channel = forms.ChoiceField(choices=OutreachChannel.choices, label="The patient agreed by")
    note = forms.CharField(max_length=500, required=False, label="Note")


@require_GET
@work_required
def slots(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    referral = selectors.referral_get(user=request.user, referral_id=pk)
    patient = patient_get(referral, user=request.user)
    if referral.patient_ref:
        access_log(request, patient=referral.patient_ref, what=f"referral:{referral.pk}:slots", site=referral.site)
    bookable = referral.state in BOOKABLE and can(request.user, referral, "work")
    found = referral_free_slots(referral=referral, live=bool(referral.source.base_url)) if bookable else []
    return render(
        request,
        "referrals/slots.html",
        {
            "referral": referral,
            "patient": patient,
            "bookable": bookable,
            "rebook": referral.state in HAS_APPOINTMENT,
            "days": slots_by_day(referral, found),
            "form": BookForm(),
        },
    )


@require_POST
@work_required
def book(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    referral = selectors.referral_get(user=request.user, referral_id=pk)
    form = BookForm(request.POST)
    if not form.is_valid():
        return form_problem(request, form, referral.pk)
    try:
        referral_book(
            referral_id=referral.pk, by=request.user, slot_ref=form.cleaned_data["slot"],
            channel=form.cleaned_data["channel"], note=form.cleaned_data["note"],
        )  # fmt: skip
    except (PermissionDenied, ApplicationError, *STALE) as exc:
        return failure(request, exc, referral.pk)
    messages.success(request, "Booking sent to the EHR: the referral is scheduled when the EHR confirms it.")
    return HttpResponseRedirect(reverse("referrals:detail", args=[referral.pk]))
