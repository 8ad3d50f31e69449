"""The integration console's HL7 v2 pages: the messages as received (segments laid out), the ACK
each was given, the FHIR it became; a message that could not be converted can be converted again
once its cause is fixed, and an application ACK that could not be sent can be sent again (POST,
then back to the message with what happened)."""

from typing import cast
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.core.access_log import access_log
from apps.core.models import User

from . import selectors_v2
from .forms import Hl7FilterForm
from .models import Hl7Message
from .services.v2_app_ack import hl7_app_ack_retry
from .services.v2_inbox import hl7_replay as replay_service
from .v2.message import V2Error
from .views import admin_required

REPLAYABLE = {Hl7Message.Status.ERROR}


@require_GET
@admin_required
def hl7_list(request: HttpRequest) -> HttpResponse:
    form = Hl7FilterForm(request.GET or None)
    page = selectors_v2.hl7_list(filters=form.filters(), after=request.GET.get("after"))
    pairs = form.query_pairs()
    url = reverse("ehr:hl7_list")
    context = {
        "form": form,
        "page": page,
        "first_url": f"{url}?{urlencode(pairs)}" if pairs else url,
        "next_url": f"{url}?{urlencode([*pairs, ('after', page.next_cursor)])}" if page.next_cursor else "",
    }
    return render(request, "ehr/hl7_list.html", context)


@require_GET
@admin_required
def hl7_detail(request: HttpRequest, pk: int) -> HttpResponse:
    detail = selectors_v2.hl7_get(message_id=pk)
    access_log(request, patient=detail.patient, what=f"hl7:{detail.message.pk}")
    context = {"d": detail, "m": detail.message, "replayable": detail.message.status in REPLAYABLE}
    return render(request, "ehr/hl7_detail.html", context)


@require_POST
@admin_required
def hl7_replay(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(Hl7Message, pk=pk)
    back = reverse("ehr:hl7_detail", args=[pk])
    if row.status not in REPLAYABLE:
        messages.info(request, "This message was already converted or was rejected; there is nothing to convert again.")
        return HttpResponseRedirect(back)
    try:
        row = replay_service(message_id=pk)
    except V2Error as exc:
        messages.error(request, f"The message still cannot be read: {exc.message}")
        return HttpResponseRedirect(back)
    if row.status == Hl7Message.Status.CONVERTED:
        messages.success(request, "Converted: its FHIR resources are queued for processing (listed below).")
    else:
        messages.warning(request, f"Still not converted: {row.error} Fix the cause, then convert it again.")
    return HttpResponseRedirect(back)


@require_POST
@admin_required
def hl7_app_ack_send(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(Hl7Message.objects.select_related("app_ack"), pk=pk, app_ack__isnull=False)
    if hl7_app_ack_retry(ack_id=row.app_ack.pk, by=cast(User, request.user)):
        messages.success(request, "The application acknowledgment is back in line; its state below shows how it went.")
    else:
        messages.info(request, "The application acknowledgment is already sent or on its way; nothing to do.")
    return HttpResponseRedirect(reverse("ehr:hl7_detail", args=[pk]))
