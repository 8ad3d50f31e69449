"""Adding a walk-in to today's intake day (``services.walk_in``): the patient is chosen by a search
first (``apps.workflow.patients``, a signed token), then the site and the time; the MA lands on
the day view, where the walk-in is listed like any visit."""

from datetime import datetime
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from apps.core.http import AuthenticatedRequest
from apps.core.scoping import sites_for
from apps.workflow.patient_views import hand_entry

from ..services.walk_in import intake_walk_in
from .common import work_required


class WalkInForm(forms.Form):
    patient = forms.CharField(widget=forms.HiddenInput)
    site = forms.ChoiceField(label="Site")
    time = forms.TimeField(
        label="Time today", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="When the patient came, or is expected today (the site's local time)",
        error_messages={"invalid": "Enter a time of day, e.g. 14:30."},
    )  # fmt: skip

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sites = {site.code: site for site in sites_for(user).order_by("name")}
        cast(forms.ChoiceField, self.fields["site"]).choices = [(c, s.name) for c, s in self.sites.items()]
        if self.sites and not self.is_bound:
            first = next(iter(self.sites.values()))
            self.initial.setdefault("time", timezone.localtime(timezone.now(), first.tzinfo).strftime("%H:%M"))


@require_http_methods(["GET", "POST"])
@work_required
def walk_in(request: AuthenticatedRequest) -> HttpResponse:
    """Step 1 (no patient yet): find the patient. Step 2: site and time; then today's day view."""
    user = request.user

    def save(form: forms.Form, patient: Any) -> HttpResponse:
        site = cast(WalkInForm, form).sites[form.cleaned_data["site"]]
        today = timezone.localtime(timezone.now(), site.tzinfo).date()
        start = datetime.combine(today, form.cleaned_data["time"], tzinfo=site.tzinfo)
        intake = intake_walk_in(patient=patient, site=site, start=start, by=user)
        messages.success(request, f"Walk-in added to today at {site.name}, {start:%H:%M}: intake {intake.pk}.")
        return HttpResponseRedirect(f"{reverse('intake:day')}?site={site.code}&day=today")

    return hand_entry(
        request, template="intake/walk_in.html", restart="intake:walk_in", what="walk-in-entry", save=save,
        form_make=lambda token: WalkInForm(request.POST or None, user=user, initial={"patient": token}),
    )  # fmt: skip
