"""How the audit report (apps.core.audit_report) finds and names patients of the local store:
registered by this app in ``AppConfig.ready()``, since core never imports ehr."""

import re
from collections.abc import Iterable

from django.db.models import Q
from django.utils.formats import date_format

from apps.core.audit_report import PatientMatch

from .models import Patient

REFERENCE = "Patient/"


def _label(patient: Patient) -> str:
    name = ", ".join(part for part in (patient.family, patient.given) if part) or "(no name)"
    parts = [name]
    if patient.mrn:
        parts.append(f"MRN {patient.mrn}")
    if patient.birth_date:
        parts.append(f"born {date_format(patient.birth_date)}")  # the one date format
    return " · ".join(parts)


def patients_match(text: str, limit: int) -> list[PatientMatch]:
    """Patients whose reference or MRN is ``text``, or whose names start with each of its words
    ("rivera", "Rivera, Ana", "ana riv"); at most ``limit``, by name."""
    text = text.strip()
    if text.startswith(REFERENCE):
        wanted = Q(fhir_id=text.removeprefix(REFERENCE))
    else:
        wanted = Q(mrn=text)
        words = [word for word in re.split(r"[,\s]+", text) if word]
        if words:
            by_name = Q()
            for word in words:
                by_name &= Q(family__istartswith=word) | Q(given__istartswith=word)
            wanted |= by_name
    found: dict[str, PatientMatch] = {}
    for patient in Patient.objects.filter(wanted).order_by("family", "given", "fhir_id")[: limit * 2]:
        ref = f"{REFERENCE}{patient.fhir_id}"
        found.setdefault(ref, PatientMatch(ref, _label(patient)))  # one patient stored from two sources
    return list(found.values())[:limit]


def patients_describe(refs: Iterable[str]) -> dict[str, str]:
    """``Patient/<id>`` -> its label, for the references found in the local store."""
    ids = [ref.removeprefix(REFERENCE) for ref in refs if ref.startswith(REFERENCE)]
    return {f"{REFERENCE}{p.fhir_id}": _label(p) for p in Patient.objects.filter(fhir_id__in=ids)}
