"""Deliveries in the admin: integration admins see failures and put them back in line (staff
emails and patient reminders); each site's name and phone number for patients, and its form."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import ClinicContact, EmailDelivery, PatientMessage, PatientOptOut
from .questionnaire import questions
from .reminders import patient_message_retry
from .services import email_retry


class DeliveryAdmin(admin.ModelAdmin):
    """Read-only rows with one action: send the failed ones again."""

    actions = ["retry"]
    retry_with: Any = None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Send the selected failed messages again", permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        ids = list(queryset.values_list("id", flat=True))
        count = type(self).retry_with(ids, request.user)
        self.message_user(request, f"{count} message(s) put back in line.", messages.SUCCESS)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("core.administer_integrations")


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(DeliveryAdmin):
    list_display = ("id", "user", "subject", "status", "attempts", "created_at", "sent_at", "last_error")
    list_filter = ("status",)

    @staticmethod
    def retry_with(ids: list[int], by: Any) -> int:
        return email_retry(delivery_ids=ids, by=by)


@admin.register(PatientMessage)
class PatientMessageAdmin(DeliveryAdmin):
    list_display = ("id", "workflow", "item_id", "channel", "offset_hours", "status", "attempts", "sent_at")
    list_filter = ("status", "channel")
    exclude = ("body",)  # its links are live until the visit

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields if f.name != "body"]

    @staticmethod
    def retry_with(ids: list[int], by: Any) -> int:
        return patient_message_retry(message_ids=ids, by=by)


class ClinicContactForm(forms.ModelForm):
    class Meta:
        model = ClinicContact
        fields = ["site", "name", "phone", "questionnaire_url", "questionnaire"]

    def clean_questionnaire(self) -> Any:
        value = self.cleaned_data.get("questionnaire")
        if not value:
            return None
        from fhir.resources.R4B.questionnaire import Questionnaire

        try:
            Questionnaire.model_validate(value)
        except Exception as exc:  # pydantic's ValidationError: say what is wrong, in the form
            raise forms.ValidationError(f"This is not a valid FHIR R4 Questionnaire: {str(exc)[:300]}") from None
        if not questions(value):
            raise forms.ValidationError("This Questionnaire has no question the pre-visit form can show.")
        return value


@admin.register(ClinicContact)
class ClinicContactAdmin(admin.ModelAdmin):
    form = ClinicContactForm
    list_display = ("site", "name", "phone", "questionnaire_url")


@admin.register(PatientOptOut)
class PatientOptOutAdmin(admin.ModelAdmin):
    list_display = ("patient_ref", "channel", "created_at", "by")
    list_filter = ("channel",)
    readonly_fields = ("source", "patient_ref", "channel", "created_at", "by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # staff set it on the patient page; patients with the link in a message
