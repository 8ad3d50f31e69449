"""EHR sources in the admin, for integration admins. Secrets are write-only: the form never
shows them back, a blank field keeps the stored value, and a new webhook token is shown once."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import EhrSource, PollCursor
from .selectors import retention_summary
from .services.sources import source_save, source_upsert

SECRETS = ("bearer_token", "private_key_pem")


class EhrSourceForm(forms.ModelForm):
    bearer_token = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), help_text="Stored; never shown. Blank keeps it."
    )
    private_key_pem = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off"}),
        help_text="PEM private key for the SMART client JWT. Stored; never shown. Blank keeps it.",
    )
    clear_secrets = forms.BooleanField(required=False, help_text="Remove the stored bearer token and private key.")

    class Meta:
        model = EhrSource
        fields = [
            "name", "base_url", "is_active", "auth_type", "client_id", "token_url", "key_id", "scope",
            "poll_enabled", "poll_resource_types", "poll_interval_seconds", "use_bulk_export",
            "mllp_port", "mllp_allowed_addresses", "mllp_ack_host", "mllp_ack_port", "v2_systems",
            "retention_days", "legal_hold",
        ]  # fmt: skip

    def clean_mllp_allowed_addresses(self) -> list[str]:
        """Addresses or networks the listener can read; a typo here would lock the sender out."""
        import ipaddress

        values = self.cleaned_data.get("mllp_allowed_addresses") or []
        if not isinstance(values, list):
            raise forms.ValidationError('Give a list, e.g. ["10.0.0.5", "10.1.0.0/16"].')
        for value in values:
            try:
                ipaddress.ip_network(str(value).strip(), strict=False)
            except ValueError as exc:
                raise forms.ValidationError(f"{value} is not an IP address or network: {exc}") from exc
        return [str(v).strip() for v in values]

    def clean_v2_systems(self) -> dict[str, str]:
        value = self.cleaned_data.get("v2_systems") or {}
        if not isinstance(value, dict) or not all(isinstance(v, str) and ":" in v for v in value.values()):
            raise forms.ValidationError('Give authority → system URI pairs, e.g. {"HOSP": "urn:oid:1.2.3"}.')
        return value

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stored = {name: getattr(self.instance, name) for name in SECRETS}
        for name in SECRETS:
            self.initial[name] = ""  # never render a stored secret

    def save(self, commit: bool = True) -> EhrSource:
        source = super().save(commit=False)
        for name in SECRETS:
            if self.cleaned_data.get("clear_secrets"):
                setattr(source, name, "")
            else:  # a blank field keeps what is stored
                setattr(source, name, self.cleaned_data.get(name) or self._stored[name])
        if commit:
            source.save()
        return source


class PollCursorInline(admin.TabularInline):
    model = PollCursor
    extra = 0
    fields = ["resource_type", "cursor", "last_run_at", "last_error"]
    readonly_fields = ["last_run_at", "last_error"]


@admin.register(EhrSource)
class EhrSourceAdmin(admin.ModelAdmin):
    form = EhrSourceForm
    list_display = ["name", "base_url", "auth_type", "is_active", "poll_enabled", "webhook_token"]
    list_filter = ["is_active", "auth_type", "poll_enabled"]
    search_fields = ["name", "base_url"]
    readonly_fields = ["webhook_token", "secrets_stored", "retention", "created_at", "updated_at"]
    inlines = [PollCursorInline]
    actions = ["rotate_webhook_token"]

    @admin.display(description="Webhook token")
    def webhook_token(self, obj: EhrSource) -> str:
        return f"…{obj.webhook_token_hint}" if obj.webhook_token_hint else "none yet"

    @admin.display(description="Retention")
    def retention(self, obj: EhrSource) -> str:
        return retention_summary(source=obj) if obj.pk else "Set once the source is saved."

    @admin.display(description="Secrets stored")
    def secrets_stored(self, obj: EhrSource) -> str:
        stored = [label for name, label in (("bearer_token", "bearer token"), ("private_key_pem", "private key"))
                  if getattr(obj, name)]  # fmt: skip
        return ", ".join(stored) or "none"

    def save_model(self, request: HttpRequest, obj: EhrSource, form: Any, change: bool) -> None:
        token = source_save(source=obj)
        if token:
            messages.warning(request, f"Webhook token for {obj.name} (shown once, store it in the EHR): {token}")

    @admin.action(description="Rotate the webhook token (the old one stops working)")
    def rotate_webhook_token(self, request: HttpRequest, queryset: QuerySet[EhrSource]) -> None:
        for name in queryset.order_by("name").values_list("name", flat=True):
            try:
                source, token = source_upsert(name=name, rotate_token=True)
            except ValidationError as exc:
                messages.error(request, f"The webhook token for {name} was not rotated: {'; '.join(exc.messages)}")
                continue
            messages.warning(request, f"New webhook token for {source.name} (shown once): {token}")
