"""The per-site switch (and which EHR locations are the site) is set up by integration staff in
the admin, through the configuration service (``services/config.py``), whose rules the form
checks first; checklists are kept by supervisors on their own page (views/checklists.py)."""

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from apps.core.errors import ApplicationError
from apps.core.models import User

from .models import IntakeSite
from .services.config import intake_site_check, intake_site_save


class IntakeSiteForm(forms.ModelForm):
    class Meta:
        model = IntakeSite
        fields = ["site", "enabled", "source", "location_refs"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("location_refs") is None:  # a blank field is no locations (the source's default site)
            data["location_refs"] = []
        if data.get("site") is not None and data.get("source") is not None:  # else a field has its error
            try:
                intake_site_check(
                    site=data["site"],
                    source=data["source"],
                    location_refs=data["location_refs"],
                    pk=self.instance.pk,
                )
            except ApplicationError as error:
                raise ValidationError(error.message, code=error.code) from error
        return data


@admin.register(IntakeSite)
class IntakeSiteAdmin(admin.ModelAdmin):
    form = IntakeSiteForm
    list_display = ["site", "enabled", "source"]
    list_filter = ["enabled"]

    def save_model(self, request: HttpRequest, obj: IntakeSite, form: Any, change: bool) -> None:
        intake_site_save(intake_site=obj, by=cast(User, request.user))
