"""Where each source's referrals go, kept by integration admins: the form refuses what the
routing service refuses, and every save goes through it (``services/routes.py``)."""

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from apps.core.errors import ApplicationError
from apps.core.models import User

from .models import ReferralRoute
from .services.routes import referral_route_check, referral_route_save


class ReferralRouteForm(forms.ModelForm):
    class Meta:
        model = ReferralRoute
        fields = ["source", "performer_ref", "specialty", "site", "service_line"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("site") is not None:  # without a site the field already has its error
            try:
                referral_route_check(
                    performer_ref=data.get("performer_ref") or "",
                    specialty=data.get("specialty") or "",
                    site=data["site"],
                )
            except ApplicationError as error:
                raise ValidationError(error.message, code=error.code) from error
        return data


@admin.register(ReferralRoute)
class ReferralRouteAdmin(admin.ModelAdmin):
    """Where each source's referrals go; the most specific route wins, a blank one is the default."""

    form = ReferralRouteForm
    list_display = ["source", "performer_ref", "specialty", "site", "service_line"]
    list_filter = ["source", "site"]
    search_fields = ["performer_ref", "specialty"]

    def save_model(self, request: HttpRequest, obj: ReferralRoute, form: Any, change: bool) -> None:
        referral_route_save(route=obj, by=cast(User, request.user))
