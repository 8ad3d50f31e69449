"""The audit report for compliance officers: who saw or changed what, filterable and exportable.

A patient is found by MRN, name or reference. Core keeps no patients: the app that does (ehr)
registers how to find them (``audit_patient_directory_register``, in its ``AppConfig.ready()``),
so core never imports it (DESIGN.md: one direction). Without one, only a reference is understood.
"""

from collections.abc import Callable, Iterable
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
MAX_PATIENTS = 20  # more matches than this: the officer is asked to narrow the search


@dataclass(frozen=True)
class PatientMatch:
    ref: str  # Patient/<id>, as the access log records it
    label: str  # e.g. "Rivera, Ana · MRN 00123 · born 2 Jan 1970"


# What the officer typed -> the patients it matches (at most ``limit``); and references -> labels.
PatientFind = Callable[[str, int], list[PatientMatch]]
PatientDescribe = Callable[[Iterable[str]], dict[str, str]]


@dataclass
class _Directory:
    find: PatientFind | None = None
    describe: PatientDescribe | None = None


_directory = _Directory()


def audit_patient_directory_register(find: PatientFind | None, describe: PatientDescribe | None) -> None:
    """Set how the report finds and names patients (the ehr app does, when apps load); None unsets."""
    _directory.find, _directory.describe = find, describe


def patients_find(text: str) -> list[PatientMatch]:
    """The patients ``text`` (an MRN, a name, or ``Patient/<id>``) matches; a reference no longer
    in the local store still finds its trail."""
    text = text.strip()
    found = _directory.find(text, MAX_PATIENTS + 1) if _directory.find and text else []
    if not found and text.startswith("Patient/") and len(text) > len("Patient/"):
        found = [PatientMatch(text, "")]
    return found


def patients_describe(refs: Iterable[str]) -> dict[str, str]:
    refs = {ref for ref in refs if ref}
    return _directory.describe(refs) if _directory.describe and refs else {}


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
    patient = forms.CharField(required=False, max_length=128, label="Patient (MRN, name or reference)")
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
    # A date input reads and writes ISO dates whatever the display format.
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    emergency = forms.BooleanField(required=False, label="Break-glass only")
    sort = forms.ChoiceField(choices=[(k, k) for k in SORTS], required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patient_matches: list[PatientMatch] = []

    def clean_patient(self) -> str:
        text = (self.cleaned_data.get("patient") or "").strip()
        if not text:
            return ""
        matches = patients_find(text)
        if not matches:
            raise forms.ValidationError(
                f"No patient matches “{text}”. Give the MRN, the family name (and given name), "
                "or the reference Patient/<id>."
            )
        if len(matches) > MAX_PATIENTS:
            raise forms.ValidationError(
                f"More than {MAX_PATIENTS} patients match “{text}”. Add the given name, or use the MRN."
            )
        self.patient_matches = matches
        return text

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "“To” is before “From”: choose a To date on or after the From date.")
        data["patients"] = [match.ref for match in self.patient_matches]
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
    patient_label: str = ""


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
        qs = qs.filter(patient__in=data.get("patients") or [data["patient"]])
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
        about = Q()
        for ref in data.get("patients") or [data["patient"]]:
            about |= Q(changes_as_text__contains=ref) | Q(object_repr__contains=ref)
        qs = qs.annotate(changes_as_text=Cast("changes", TextField())).filter(about)
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
    logs = list(access_rows(data)[window])
    labels = patients_describe(log.patient for log in logs)
    return [
        ReportRow(
            at=log.at,
            user=log.user.username,
            action=log.action,
            patient=log.patient,
            what=log.what,
            where=log.site.name if log.site else "",
            emergency=log.emergency,
            patient_label=labels.get(log.patient, ""),
        )
        for log in logs
    ]


def report_csv(data: dict[str, Any], out: Any) -> None:
    """Write the whole filtered report as CSV (times in UTC, ISO 8601)."""
    writer = csv_writer(out)  # formulas are written as text (apps.core.csv_cells)
    writer.writerow(["at_utc", "user", "action", "patient", "what", "where", "emergency"])
    for row in report_rows(data, limit=None):
        cells = [row.at.astimezone(UTC).isoformat(), row.user, row.action, row.patient, row.what, row.where]
        writer.writerow([*cells, "yes" if row.emergency else "no"])
