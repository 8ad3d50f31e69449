"""Supervisors keep the checklists: per site and appointment type, on top of the defaults.

A page of the app rather than the Django admin: supervisors are not admin staff, and the page
limits every change to the supervisor's own sites (the admin would need a custom queryset,
form and permission set to do the same)."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from apps.core.errors import ApplicationError
from apps.core.http import AuthenticatedRequest
from apps.core.scoping import sites_for
from apps.terminology.models import Concept

from .. import selectors, services
from ..forms import ChecklistItemForm
from ..handlers import APPOINTMENT_TYPE_SYSTEM


def _types() -> list[tuple[str, str]]:
    rows = Concept.objects.filter(system__url=APPOINTMENT_TYPE_SYSTEM, active=True).order_by("code")
    found = [(c.code, f"{c.code.capitalize()} — {c.display}") for c in rows]
    # Before the terminology reference data is loaded, offer the HL7 codes themselves.
    return found or [(code, code.capitalize()) for code in ("CHECKUP", "EMERGENCY", "FOLLOWUP", "ROUTINE", "WALKIN")]


@permission_required("core.supervise_queues", raise_exception=True)
def checklists(request: AuthenticatedRequest) -> HttpResponse:
    """GET: the checklist lines in force; POST: add, reword or switch off a line at one of your sites."""
    sites = list(sites_for(request.user))
    form = ChecklistItemForm(request.POST or None, sites=sites, types=_types())
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            site = next(s for s in sites if str(s.pk) == data["site"])
            try:
                services.checklist_item_save(
                    by=request.user, key=data["key"], label=data["label"], site=site,
                    appointment_type=data["appointment_type"], position=data["position"], active=data["active"],
                )  # fmt: skip
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Saved: {data['label']} at {site}.")
                return HttpResponseRedirect(reverse("intake:checklists"))
        status = 400
    else:
        status = 200
    rows = selectors.checklist_rows(user=request.user)
    return render(request, "intake/checklists.html", {"form": form, "rows": rows}, status=status)
