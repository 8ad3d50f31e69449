"""Test helpers: make referral traffic and push it through the real ingestion path."""

from apps.ehr.services.sources import source_upsert
from apps.referrals.models import ReferralRoute
from tests.plugins.core import SiteFactory

from .ehr_messages import feed  # noqa: F401 - re-exported: the one way to drive the pipeline

REFERRAL = {"coding": [{"system": "http://snomed.info/sct", "code": "3457005", "display": "Patient referral"}]}
CARDIOLOGY = {"coding": [{"system": "http://snomed.info/sct", "code": "394579002", "display": "Cardiology"}]}


SNOMED = "http://snomed.info/sct"


def specialty_map(rows=(("394579002", "cardiology"),), *, hooks=None):
    """An active map from SNOMED CT specialties to the canonical specialties, with ``rows``."""
    from apps.referrals.routing import SPECIALTY_SYSTEM
    from tests.plugins.terminology import concept_map_active

    return concept_map_active("snomed-specialty", source_url=SNOMED, target_url=SPECIALTY_SYSTEM, rows=rows,
                      title="SNOMED CT to specialty", hooks=hooks)  # fmt: skip


def make_source(site=None, name="ehr-north", *, mapped=True):
    """A source routing its referrals to ``site``; with ``mapped``, SNOMED cardiology is mapped."""
    from apps.core.models import ServiceLine

    site = site or SiteFactory(code="north", name="North Clinic")
    site.service_lines.add(ServiceLine.objects.get_or_create(code="cardiology", defaults={"name": "Cardiology"})[0])
    source, token = source_upsert(name=name, base_url="http://127.0.0.1:9/fhir")
    ReferralRoute.objects.get_or_create(source=source, performer_ref="", specialty="", defaults={"site": site})
    if mapped:
        specialty_map()
    source.token = token
    return source, site


def service_request(sr_id="sr1", *, version="1", status="active", priority="routine", patient="p1", **extra) -> dict:
    return {
        "resourceType": "ServiceRequest",
        "id": sr_id,
        "meta": {"versionId": version, "lastUpdated": f"2026-03-0{min(int(version), 9)}T10:00:00Z"},
        "status": status,
        "intent": "order",
        "priority": priority,
        "category": [REFERRAL],
        "code": {"text": "Referral to cardiology"},
        "performerType": CARDIOLOGY,
        "subject": {"reference": f"Patient/{patient}"},
        "requester": {"reference": "Practitioner/dr-ref"},
        "reasonCode": [{"text": "Chest pain on exertion"}],
        **extra,
    }


def task(task_id="t1", *, sr_id="sr1", status="requested", version="1") -> dict:
    return {
        "resourceType": "Task",
        "id": task_id,
        "meta": {"versionId": version},
        "status": status,
        "intent": "order",
        "focus": {"reference": f"ServiceRequest/{sr_id}"},
        "for": {"reference": "Patient/p1"},
    }


def appointment(appt_id="a1", *, sr_id="sr1", status="booked", version="1") -> dict:
    return {
        "resourceType": "Appointment",
        "id": appt_id,
        "meta": {"versionId": version},
        "status": status,
        "start": "2026-04-01T14:00:00Z",
        "end": "2026-04-01T14:30:00Z",
        "basedOn": [{"reference": f"ServiceRequest/{sr_id}"}],
        "participant": [{"actor": {"reference": "Patient/p1"}, "status": "accepted"}],
    }
