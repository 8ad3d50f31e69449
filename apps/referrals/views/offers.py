"""Earlier-slot offers (issue 15): the scheduler's list of open offers at their sites, accept or
decline each (post-redirect-get), and joining or leaving the wait list from the referral page."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.core.access_log import access_log
from apps.core.errors import ApplicationError
from apps.core.http import AuthenticatedRequest
from apps.core.scoping import scope_to_sites
from apps.workflow.models import OutreachChannel
from apps.workflow.selectors import patients_attach
from apps.workflow.web import STALE

from .. import selectors
from ..models import SlotOffer, WaitListEntry
from ..services.waitlist import (
    offer_summary,
    slot_offer_accept,
    slot_offer_decline,
    waitlist_join,
    waitlist_leave,
)
from .common import failure, problem, work_required

OFFERS_URL = "referrals:offers"


def _offer(request: AuthenticatedRequest, pk: int) -> SlotOffer:
    offer = scope_to_sites(SlotOffer.objects.select_related("referral"), request.user).filter(pk=pk).first()
    if offer is None:
        raise Http404("No such offer.")
    return offer


@require_GET
@work_required
def offers(request: AuthenticatedRequest) -> HttpResponse:
    rows = list(
        scope_to_sites(SlotOffer.objects.filter(status=SlotOffer.Status.OPEN), request.user)
        .select_related("referral", "referral__site")
        .order_by("expires_at", "id")[:200]
    )
    referrals = [o.referral for o in rows]
    patients_attach(referrals, user=request.user)
    for referral in referrals:
        if getattr(referral, "patient", None) is not None:
            access_log(request, patient=referral.patient_ref, what="referral-offers", site=referral.site)
    return render(request, "referrals/offers.html", {"offers": [offer_summary(o) for o in rows],
                                                     "channels": OutreachChannel.choices})  # fmt: skip


@require_POST
@work_required
def accept(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    offer = _offer(request, pk)
    channel = request.POST.get("channel", OutreachChannel.PHONE)
    if channel not in OutreachChannel.values:
        return problem(request, 400, "Choose how the patient answered.", reload_url=reverse(OFFERS_URL))
    try:
        slot_offer_accept(offer_id=offer.pk, by=request.user, channel=channel)
    except (PermissionDenied, ApplicationError, *STALE) as exc:
        return failure(request, exc, offer.referral_id)
    messages.success(request, "Offer accepted: the earlier slot is being booked in the EHR.")
    return HttpResponseRedirect(reverse("referrals:detail", args=[offer.referral_id]))


@require_POST
@work_required
def decline(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    offer = _offer(request, pk)
    try:
        slot_offer_decline(offer_id=offer.pk, by=request.user, note=request.POST.get("note", "")[:300])
    except (PermissionDenied, ApplicationError, *STALE) as exc:
        return failure(request, exc, offer.referral_id)
    messages.success(request, "Offer declined: the slot goes to the next patient waiting.")
    return HttpResponseRedirect(reverse(OFFERS_URL))


@require_POST
@work_required
def wait_list(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Join the wait list, or leave it when already on it."""
    referral = selectors.referral_get(user=request.user, referral_id=pk)
    try:
        if WaitListEntry.objects.filter(referral=referral, active=True).exists():
            waitlist_leave(referral_id=referral.pk, by=request.user)
            done = "Off the wait list."
        else:
            waitlist_join(referral_id=referral.pk, by=request.user)
            done = "On the wait list: an earlier slot that frees up will be offered."
    except (PermissionDenied, ApplicationError, *STALE) as exc:
        return failure(request, exc, referral.pk)
    messages.success(request, done)
    return HttpResponseRedirect(reverse("referrals:detail", args=[referral.pk]))
