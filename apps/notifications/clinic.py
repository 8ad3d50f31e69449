"""What patients are told about a site and themselves: the clinic's name and phone number, the
visit time in the site's zone, the patient's first name and addresses (from the EHR's Patient)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from apps.core.models import Site
from apps.ehr.models import Patient

from .models import ClinicContact, PatientChannel


@dataclass(frozen=True)
class Clinic:
    name: str
    phone: str
    timezone: str


def clinic_of(site_id: int) -> Clinic:
    """The site as its patients know it (its contact row, else its name and the default phone)."""
    site = Site.objects.get(pk=site_id)
    contact = ClinicContact.objects.filter(site_id=site_id).first()
    name = (contact.name if contact and contact.name else "") or site.name
    phone = (contact.phone if contact else "") or settings.PATIENT_CLINIC_PHONE
    return Clinic(name=name, phone=phone, timezone=site.timezone)


def when(clinic: Clinic, moment: datetime) -> str:
    """``Thursday 12 March 2026 at 09:00`` in the clinic's time zone."""
    return moment.astimezone(ZoneInfo(clinic.timezone)).strftime("%A %-d %B %Y at %H:%M")


def _patient(source_id: int, patient_ref: str) -> Patient | None:
    if not patient_ref.startswith("Patient/"):
        return None
    return Patient.objects.filter(source_id=source_id, fhir_id=patient_ref.partition("/")[2], deleted=False).first()


def patient_first_name(source_id: int, patient_ref: str) -> str:
    """The first given name (all a patient page shows of who it is about)."""
    patient = _patient(source_id, patient_ref)
    return (patient.given.split() or [""])[0] if patient and patient.given else ""


def patient_address(source_id: int, patient_ref: str, channel: str) -> str:
    """The patient's current email address or mobile number from the EHR (by rank; "" if none)."""
    patient = _patient(source_id, patient_ref)
    telecom: list[Any] = (patient.raw.get("telecom") or []) if patient and isinstance(patient.raw, dict) else []
    wanted = ("email",) if channel == PatientChannel.EMAIL else ("sms", "phone")
    found = [
        t for t in telecom
        if isinstance(t, dict) and t.get("system") in wanted and isinstance(t.get("value"), str) and t["value"].strip()
        and not (t.get("period") or {}).get("end")
    ]  # fmt: skip
    if channel == PatientChannel.SMS:  # a text goes to a mobile number, never a landline
        found = [t for t in found if t.get("system") == "sms" or t.get("use") == "mobile"]
    found.sort(key=lambda t: int(t["rank"]) if isinstance(t.get("rank"), int) else 99)
    return found[0]["value"].strip()[:200] if found else ""
