"""Test helpers: appointments and the events that tick checklists, through the real ingestion path."""

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from apps.ehr.services.sources import source_upsert
from apps.intake.models import IntakeSite
from tests.plugins.core import SiteFactory
from tests.plugins.ehr_messages import feed  # noqa: F401 - re-exported: the one way to drive the pipeline

TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0276"


def make_source(site=None, name="ehr-intake", *, enabled=True, locations=()):
    """An EHR source whose appointments (at ``locations``, or anywhere) belong to ``site``."""
    site = site or SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    source, token = source_upsert(name=name, base_url="http://127.0.0.1:9/fhir")
    IntakeSite.objects.update_or_create(
        site=site, defaults={"source": source, "enabled": enabled, "location_refs": list(locations)}
    )
    source.token = token
    return source, site


def visit_at(days: int, hour: int = 10, tz: str = "America/New_York") -> datetime:
    """``days`` from today at ``hour`` local time at the site."""
    import zoneinfo

    local = timezone.localtime(timezone.now(), zoneinfo.ZoneInfo(tz)) + timedelta(days=days)
    return local.replace(hour=hour, minute=0, second=0, microsecond=0)


def appointment(
    appt_id: str = "a1",
    *,
    start: datetime | None = None,
    status: str = "booked",
    version: int = 1,
    patient: str = "p1",
    kind: str | None = "ROUTINE",
    system: str = TYPE_SYSTEM,
    location: str = "Location/north-main",
    updated: datetime | None = None,
) -> dict[str, Any]:
    start = start or visit_at(2)
    updated = updated or timezone.now() - timedelta(minutes=60 - version)
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": appt_id,
        "meta": {"versionId": str(version), "lastUpdated": updated.isoformat()},
        "status": status,
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=30)).isoformat(),
        "participant": [
            {"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"},
            {"actor": {"reference": location}, "status": "accepted"},
        ],
    }
    if kind:
        resource["appointmentType"] = {"coding": [{"system": system, "code": kind}]}
    return resource


def questionnaire_response(qr_id: str = "qr1", *, patient: str = "p1", status: str = "completed") -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "id": qr_id,
        "meta": {"versionId": "1"},
        "status": status,
        "subject": {"reference": f"Patient/{patient}"},
        "authored": timezone.now().isoformat(),
    }


def consent_document(doc_id: str = "d1", *, patient: str = "p1", code: str = "59284-0") -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "id": doc_id,
        "meta": {"versionId": "1"},
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": code, "display": "Patient consent"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "content": [{"attachment": {"contentType": "application/pdf", "url": "Binary/b1"}}],
    }


def encounter(enc_id: str = "e1", *, appt_id: str = "a1", status: str = "in-progress", start=None) -> dict[str, Any]:
    start = start or timezone.now()
    return {
        "resourceType": "Encounter",
        "id": enc_id,
        "meta": {"versionId": "1"},
        "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "Patient/p1"},
        "appointment": [{"reference": f"Appointment/{appt_id}"}],
        "period": {"start": start.isoformat()},
    }
