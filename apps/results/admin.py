"""Where results go, in the admin: the forms refuse what the configuration services refuse, and
every save goes through them (``services/config.py``)."""

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from apps.core.errors import ApplicationError
from apps.core.models import User

from .models import ClinicianLink, ResultSite
from .services.config import clinician_link_check, clinician_link_save, result_site_check, result_site_save


class ClinicianLinkForm(forms.ModelForm):
    class Meta:
        model = ClinicianLink
        fields = ["source", "practitioner_ref", "user", "site"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("practitioner_ref") and data.get("site") is not None:  # else a field has its error
            try:
                clinician_link_check(practitioner_ref=data["practitioner_ref"], site=data["site"])
            except ApplicationError as error:
                raise ValidationError(error.message, code=error.code) from error
        return data


class ResultSiteForm(forms.ModelForm):
    class Meta:
        model = ResultSite
        fields = ["source", "site"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("site") is not None:
            try:
                result_site_check(site=data["site"])
            except ApplicationError as error:
                raise ValidationError(error.message, code=error.code) from error
        return data


@admin.register(ClinicianLink)
class ClinicianLinkAdmin(admin.ModelAdmin):
    form = ClinicianLinkForm
    list_display = ("practitioner_ref", "user", "site", "source")
    list_filter = ("source", "site")
    search_fields = ("practitioner_ref", "user__username", "user__last_name")
    autocomplete_fields = ("user",)

    def save_model(self, request: HttpRequest, obj: ClinicianLink, form: Any, change: bool) -> None:
        clinician_link_save(link=obj, by=cast(User, request.user))


@admin.register(ResultSite)
class ResultSiteAdmin(admin.ModelAdmin):
    form = ResultSiteForm
    list_display = ("source", "site")

    def save_model(self, request: HttpRequest, obj: ResultSite, form: Any, change: bool) -> None:
        result_site_save(pool=obj, by=cast(User, request.user))
