"""Entering a referral that came by fax or phone (``services.manual``), and downloading its PDF.

The patient is chosen by a search first (``apps.workflow.patients``): the form carries the
search's signed token, never a patient id a person could change. The PDF is checked on its bytes
(size, type) and is served only to people who may open the referral, access-logged.
"""

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from apps.core.access_log import access_log
from apps.core.errors import ApplicationError
from apps.core.http import AuthenticatedRequest
from apps.core.models import ServiceLine, Site
from apps.core.scoping import sites_for
from apps.workflow.models import Priority
from apps.workflow.patient_views import hand_entry

from .. import selectors
from ..models import ReferralAttachment
from ..services.manual import CHANNELS, MAX_ATTACHMENT_BYTES, Upload, attachment_check, referral_enter
from .common import work_required


class ReferralEntryForm(forms.Form):
    patient = forms.CharField(widget=forms.HiddenInput)
    service = forms.ChoiceField(label="Service", help_text="The service line the referral is for, at your site")
    priority = forms.ChoiceField(label="Priority", choices=Priority.choices, initial=Priority.ROUTINE)
    channel = forms.ChoiceField(label="Arrived by", choices=[(k, v.capitalize()) for k, v in CHANNELS.items()])
    reason = forms.CharField(
        label="Reason for referral", max_length=300, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="As the referrer wrote it, in a sentence",
    )  # fmt: skip
    attachment = forms.FileField(
        label="Referral letter (PDF)", required=False,
        help_text=f"The faxed referral as a PDF, at most {MAX_ATTACHMENT_BYTES // 1024 // 1024} MB",
        widget=forms.FileInput(attrs={"accept": "application/pdf,.pdf"}),
    )  # fmt: skip

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        sites = list(sites_for(user).order_by("name"))
        self.lines: dict[str, tuple[Site, ServiceLine]] = {
            f"{site.pk}-{line.pk}": (site, line)
            for site in sites
            for line in sorted(site.service_lines.all(), key=lambda line: line.name)
        }
        choices = [(key, line.name if len(sites) == 1 else f"{line.name} — {site.name}")
                   for key, (site, line) in self.lines.items()]  # fmt: skip
        cast(forms.ChoiceField, self.fields["service"]).choices = [("", "Choose a service"), *choices]

    def clean_attachment(self) -> Any:
        upload = self.cleaned_data.get("attachment")
        if upload:
            head = upload.read(8)
            upload.seek(0)
            try:
                attachment_check(filename=upload.name or "", size=upload.size or 0, head=head)
            except ApplicationError as exc:
                raise forms.ValidationError(exc.message) from exc
        return upload


@require_http_methods(["GET", "POST"])
@work_required
def enter(request: AuthenticatedRequest) -> HttpResponse:
    """Step 1 (no patient yet): find the patient. Step 2: the referral's details, then it runs the
    referral workflow (triage queue, SLA) and the scheduler lands on it."""
    user = request.user

    def save(form: forms.Form, patient: Any) -> HttpResponse:
        data = form.cleaned_data
        site, line = cast(ReferralEntryForm, form).lines[data["service"]]
        upload = data.get("attachment")
        referral = referral_enter(
            patient=patient, site=site, service_line=line, reason=data["reason"], priority=data["priority"],
            channel=data["channel"], by=user,
            attachment=Upload(filename=upload.name or "referral.pdf", data=upload.read()) if upload else None,
        )  # fmt: skip
        messages.success(
            request, f"Referral {referral.pk} entered for {line.name} at {site.name}: it is in the triage queue."
        )
        return HttpResponseRedirect(reverse("referrals:detail", args=[referral.pk]))

    return hand_entry(
        request, template="referrals/enter.html", restart="referrals:enter", what="referral-entry", save=save,
        form_make=lambda token: ReferralEntryForm(
            request.POST or None, request.FILES or None, user=user, initial={"patient": token}
        ),
    )  # fmt: skip


@require_GET
@work_required
def attachment(request: AuthenticatedRequest, pk: int, attachment_pk: int) -> HttpResponse:
    """A referral's attached PDF, to people who may open the referral (404 elsewhere); logged."""
    referral = selectors.referral_get(user=request.user, referral_id=pk)
    document = ReferralAttachment.objects.filter(referral=referral, pk=attachment_pk).only("id", "data").first()
    if document is None:
        raise Http404("No such attachment.")
    access_log(request, patient=referral.patient_ref, what=f"referral:{pk}:attachment:{document.pk}",
               site=referral.site)  # fmt: skip
    response = HttpResponse(bytes(document.data), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="referral-{pk}-{document.pk}.pdf"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
