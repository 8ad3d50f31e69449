"""The audit report for compliance officers: who saw or changed what, filterable and exportable."""

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from auditlog.models import LogEntry
from django import forms
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from .csv_cells import csv_writer
from .models import AccessLog

PAGE_SIZE = 100


class AuditReportForm(forms.Form):
    """The report's filters; every field optional, a bad value is a form error (nothing is guessed)."""

    KIND_CHOICES = [("access", "Access to patient data"), ("change", "Changes")]
    SORTS = {
        "at": "at",
        "-at": "-at",
        "user": "user__username",
        "-user": "-user__username",
        "action": "action",
        "-action": "-action",
        "patient": "patient",
        "-patient": "-patient",
    }

    kind = forms.ChoiceField(choices=KIND_CHOICES, required=False, initial="access")
    user = forms.CharField(required=False, max_length=150, label="User (username)")
    patient = forms.CharField(required=False, max_length=128, label="Patient reference")
    action = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any"),
            *AccessLog.Action.choices,
            ("create", "Created"),
            ("update", "Updated"),
            ("delete", "Deleted"),
        ],
    )
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    emergency = forms.BooleanField(required=False, label="Break-glass only")
    sort = forms.ChoiceField(choices=[(k, k) for k in SORTS], required=False)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError("“From” is after “To”.")
        return data


@dataclass(frozen=True)
class ReportRow:
    at: datetime
    user: str
    action: str
    patient: str
    what: str
    where: str
    emergency: bool


def _bounds(data: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    tz = timezone.get_current_timezone()
    start = datetime.combine(data["date_from"], time.min, tz) if data.get("date_from") else None
    end = datetime.combine(data["date_to"], time.max, tz) if data.get("date_to") else None
    return start, end


def _who_and_when(qs: QuerySet[Any], data: dict[str, Any], *, at: str, username: str) -> QuerySet[Any]:
    """The filters both kinds share: the period (in the viewer's time zone) and the user."""
    start, end = _bounds(data)
    if start:
        qs = qs.filter(**{f"{at}__gte": start})
    if end:
        qs = qs.filter(**{f"{at}__lte": end})
    if data.get("user"):
        qs = qs.filter(**{username: data["user"]})
    return qs


def access_rows(data: dict[str, Any]) -> QuerySet[AccessLog]:
    """Access-log rows matching the filters, sorted."""
    qs = _who_and_when(AccessLog.objects.select_related("user", "site"), data, at="at", username="user__username")
    if data.get("patient"):
        qs = qs.filter(patient=data["patient"])
    if data.get("action"):
        qs = qs.filter(action=data["action"])
    if data.get("emergency"):
        qs = qs.filter(emergency=True)
    sort = AuditReportForm.SORTS.get(data.get("sort") or "-at", "-at")
    return qs.order_by(sort, "-id")


CHANGE_ACTIONS = {value: label.lower() for value, label in LogEntry.Action.choices}
CHANGE_SORTS = {"at": "timestamp", "user": "actor__username", "action": "action", "patient": "object_repr"}


def change_rows(data: dict[str, Any]) -> QuerySet[LogEntry]:
    """Change-audit rows matching the filters (patient matches the changed values), sorted."""
    entries = LogEntry.objects.select_related("actor", "content_type")
    qs = _who_and_when(entries, data, at="timestamp", username="actor__username")
    if data.get("patient"):
        qs = qs.annotate(changes_as_text=Cast("changes", TextField())).filter(
            Q(changes_as_text__contains=data["patient"]) | Q(object_repr__contains=data["patient"])
        )
    if data.get("action"):
        wanted = [value for value, label in CHANGE_ACTIONS.items() if label == data["action"].lower()]
        qs = qs.filter(action__in=wanted)
    sort = data.get("sort") or "-at"
    field = CHANGE_SORTS.get(sort.lstrip("-"), "timestamp")
    return qs.order_by(f"-{field}" if sort.startswith("-") else field, "-id")


def report_rows(data: dict[str, Any], *, limit: int | None = PAGE_SIZE, offset: int = 0) -> list[ReportRow]:
    """One page (or, with ``limit=None``, all) of the report as display rows."""
    window = slice(offset, None if limit is None else offset + limit)
    if data.get("kind") == "change":
        return [
            ReportRow(
                at=entry.timestamp,
                user=entry.actor.username if entry.actor else "system",
                action=CHANGE_ACTIONS.get(entry.action, str(entry.action)),
                patient="",
                what=f"{entry.content_type.app_label}.{entry.content_type.model}:{entry.object_pk}",
                where=entry.remote_addr or "",
                emergency=False,
            )
            for entry in change_rows(data)[window]
        ]
    return [
        ReportRow(
            at=log.at,
            user=log.user.username,
            action=log.action,
            patient=log.patient,
            what=log.what,
            where=log.site.name if log.site else "",
            emergency=log.emergency,
        )
        for log in access_rows(data)[window]
    ]


def report_csv(data: dict[str, Any], out: Any) -> None:
    """Write the whole filtered report as CSV (times in UTC, ISO 8601)."""
    writer = csv_writer(out)  # formulas are written as text (apps.core.csv_cells)
    writer.writerow(["at_utc", "user", "action", "patient", "what", "where", "emergency"])
    for row in report_rows(data, limit=None):
        cells = [row.at.astimezone(UTC).isoformat(), row.user, row.action, row.patient, row.what, row.where]
        writer.writerow([*cells, "yes" if row.emergency else "no"])
