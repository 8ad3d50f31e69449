"""A person's notifications: the list, the header count (polled), opening one, the settings."""

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.access_log import access_log
from apps.core.models import User
from apps.workflow.patients import patient_get

from .models import Channel, DigestChoice, Kind, Notification, PatientChannel
from .patient_actions import patient_opt_out_set
from .preferences import DEFAULTS, preferences_of
from .selectors import notification_get, notification_list, notification_unread_count
from .services import notification_read, preferences_save


def _me(request: HttpRequest) -> User:
    return cast(User, request.user)  # every page is behind sign-in (LoginRequiredMiddleware)


@require_GET
def notification_list_view(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "notifications/list.html",
        {"notifications": notification_list(user=_me(request)), "unread": notification_unread_count(user=_me(request))},
    )


@require_GET
def notification_count_view(request: HttpRequest) -> HttpResponse:
    return render(request, "notifications/_bell.html", {"unread": notification_unread_count(user=_me(request))})


@require_GET
def notification_open_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark the notification read and go to what it is about (the link in its email lands here)."""
    try:
        notification = notification_get(user=_me(request), notification_id=pk)
    except Notification.DoesNotExist:
        raise Http404 from None
    notification_read(user=_me(request), notification_id=notification.pk)
    link = notification.link
    if not link or not url_has_allowed_host_and_scheme(link, allowed_hosts={request.get_host()}):
        link = reverse("notifications:list")
    return HttpResponseRedirect(link)


@require_POST
def notification_read_all_view(request: HttpRequest) -> HttpResponse:
    count = notification_read(user=_me(request))
    messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked read.")
    return HttpResponseRedirect(reverse("notifications:list"))


def _field(kind: str, channel: str) -> str:
    return f"{kind}.{channel}"


@require_http_methods(["GET", "POST"])
def notification_preferences_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        choices = {key: _field(*key) in request.POST for key in DEFAULTS}
        preferences_save(user=_me(request), choices=choices, digest="digest" in request.POST)
        messages.success(request, "Your notification settings are saved.")
        return HttpResponseRedirect(reverse("notifications:preferences"))
    prefs = preferences_of(_me(request))
    rows = [
        {
            "label": label,
            "cells": [
                {"name": _field(kind, channel), "on": prefs[(kind, channel)], "channel": channel_label}
                for channel, channel_label in Channel.choices
            ],
        }
        for kind, label in Kind.choices
    ]
    digest = DigestChoice.objects.filter(user=_me(request), digest=True).exists()
    return render(request, "notifications/preferences.html", {"rows": rows, "digest": digest})


@require_POST
@permission_required("core.view_patient_data", raise_exception=True)
def patient_opt_out_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff set which channels a patient gets reminders on (the boxes on the patient page)."""
    patient = patient_get(user=_me(request), patient_id=pk)  # 404 outside the user's sites
    access_log(request, patient=patient.reference, what=f"patient:{patient.pk}:reminders")
    wanted = set(request.POST.getlist("channel"))
    changed = [
        patient_opt_out_set(
            source_id=patient.source_id, patient_ref=patient.reference, channel=channel,
            opted_out=channel not in wanted, by=_me(request),
        )
        for channel in PatientChannel.values
    ]  # fmt: skip
    messages.success(request, "Reminder choices saved." if any(changed) else "Reminder choices unchanged.")
    return HttpResponseRedirect(reverse("workflow:patient_detail", args=[patient.pk]))
