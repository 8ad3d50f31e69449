"""Forms of the integration console: the message filters (GET, and POSTed back for a replay)."""

from typing import Any, cast

from django import forms

from .models import STORE_MODELS, EhrSource, Hl7AppAck, Hl7Message, InboxMessage, OutboxMessage

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class _MessageFilterForm(forms.Form):
    """Filters shared by the inbox and the outbox lists; the times are in the site's time zone."""

    status_choices: list[tuple[str, str]] = []
    time_label = ""

    status = forms.ChoiceField(required=False, label="Status")
    source = forms.ModelChoiceField(
        queryset=EhrSource.objects.order_by("name").only("id", "name"),
        required=False,
        to_field_name="name",
        empty_label="Any source",
        label="Source",
    )
    type = forms.CharField(
        required=False,
        max_length=64,
        label="Resource type",
        widget=forms.TextInput(attrs={"list": "resource-types", "placeholder": "e.g. Patient", "autocomplete": "off"}),
    )
    correlation = forms.CharField(
        required=False, max_length=64, label="Correlation id", widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    since = forms.DateTimeField(
        required=False,
        label="From",
        input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    until = forms.DateTimeField(
        required=False,
        label="To",
        input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["status"]).choices = [("", "Any status"), *self.status_choices]
        self.fields["since"].label = f"{self.time_label} from"
        self.fields["until"].label = f"{self.time_label} to"

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "Must not be before the start.")
        return data

    def filters(self) -> dict[str, Any]:
        """The valid filters as selector keywords; an invalid field is left out (and shown)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = self.cleaned_data
        source = data.get("source")
        filters = {
            "status": data.get("status") or "",
            "source_id": source.pk if source else None,
            "resource_type": (data.get("type") or "").strip(),
            "correlation_id": (data.get("correlation") or "").strip(),
            "since": data.get("since"),
            "until": data.get("until"),
        }
        return {key: value for key, value in filters.items() if value}

    def query_pairs(self) -> list[tuple[str, str]]:
        """The filters as they were given (name, value), for links and hidden inputs."""
        if not self.is_bound:
            return []
        return [(name, str(self.data.get(name))) for name in self.fields if self.data.get(name)]

    @property
    def resource_types(self) -> list[str]:
        return sorted(STORE_MODELS)


class InboxFilterForm(_MessageFilterForm):
    status_choices = list(InboxMessage.Status.choices)
    time_label = "Received"


class OutboxFilterForm(_MessageFilterForm):
    status_choices = list(OutboxMessage.Status.choices)
    time_label = "Created"


class Hl7FilterForm(forms.Form):
    """Filters of the HL7 v2 message list."""

    source = forms.ModelChoiceField(
        queryset=EhrSource.objects.order_by("name").only("id", "name"),
        required=False,
        to_field_name="name",
        empty_label="Any source",
        label="Source",
    )
    status = forms.ChoiceField(required=False, label="Status", choices=[("", "Any status"), *Hl7Message.Status.choices])
    type = forms.CharField(
        required=False,
        max_length=16,
        label="Message type",
        widget=forms.TextInput(attrs={"placeholder": "e.g. ADT^A01 or ORU", "autocomplete": "off"}),
    )
    control_id = forms.CharField(
        required=False, max_length=199, label="Control id", widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    app_ack = forms.ChoiceField(
        required=False,
        label="Reply to sender",
        choices=[("", "Any"), *Hl7AppAck.Status.choices],
    )

    def filters(self) -> dict[str, Any]:
        if not self.is_bound or not self.is_valid():
            return {} if not self.is_bound else {k: v for k, v in self.cleaned_data.items() if v}
        data = self.cleaned_data
        found = {
            "source": data["source"].name if data.get("source") else "",
            "status": data.get("status") or "",
            "type": (data.get("type") or "").strip(),
            "control_id": (data.get("control_id") or "").strip(),
            "app_ack": data.get("app_ack") or "",
        }
        return {k: v for k, v in found.items() if v}

    def query_pairs(self) -> list[tuple[str, str]]:
        if not self.is_bound:
            return []
        return [(name, str(self.data.get(name))) for name in self.fields if self.data.get(name)]
