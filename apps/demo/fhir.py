"""FHIR R4 resources of the simulated EHR, built as plain dicts (pure; no randomness here).

Every resource carries ``meta.versionId`` and ``meta.lastUpdated``; the caller passes both, so
a new version of a resource is the same builder called again with the next version number.
Identifiers use the simulated EHR's own systems under ``demo-ehr.example.org``: nothing here
is, or looks up, a real person or a real NPI.
"""

from dataclasses import dataclass
from datetime import date, datetime

SNOMED = "http://snomed.info/sct"
EHR_BASE = "http://demo-ehr.example.org/fhir"
MRN_SYSTEM = "http://demo-ehr.example.org/mrn"
PRACTITIONER_SYSTEM = "http://demo-ehr.example.org/practitioner"
LOCATION_SYSTEM = "http://demo-ehr.example.org/location"
REFERRAL_CATEGORY = {"coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}]}


def instant(at: datetime) -> str:
    """A FHIR instant in UTC, to the second (``2026-03-01T14:05:00Z``)."""
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def ref(resource: dict) -> dict:
    return {"reference": f"{resource['resourceType']}/{resource['id']}"}


def _meta(version: int, at: datetime) -> dict:
    return {"versionId": str(version), "lastUpdated": instant(at)}


@dataclass(frozen=True)
class Specialty:
    code: str  # SNOMED CT
    display: str
    mapped: bool  # whether the demo map in apps/demo/seeds/referrals.py routes it

    def concept(self) -> dict:
        return {"coding": [{"system": SNOMED, "code": self.code, "display": self.display}], "text": self.display}


def location(*, loc_id: str, code: str, name: str, timezone: str, at: datetime) -> dict:
    return {
        "resourceType": "Location",
        "id": loc_id,
        "meta": _meta(1, at),
        "identifier": [{"system": LOCATION_SYSTEM, "value": code}],
        "status": "active",
        "name": name,
        "mode": "instance",
        "type": [{"text": "Hospital" if "Hospital" in name else "Outpatient clinic"}],
        "extension": [{"url": "http://demo-ehr.example.org/fhir/StructureDefinition/timezone", "valueCode": timezone}],
    }


def practitioner(*, prac_id: str, number: str, given: str, family: str, gender: str, at: datetime) -> dict:
    return {
        "resourceType": "Practitioner",
        "id": prac_id,
        "meta": _meta(1, at),
        "identifier": [{"system": PRACTITIONER_SYSTEM, "value": number}],
        "active": True,
        "name": [{"use": "official", "family": family, "given": [given], "prefix": ["Dr."]}],
        "gender": gender,
    }


def practitioner_role(
    *, role_id: str, prac: dict, loc: dict | None, specialty: Specialty | None, role: str, at: datetime
) -> dict:
    resource = {
        "resourceType": "PractitionerRole",
        "id": role_id,
        "meta": _meta(1, at),
        "active": True,
        "practitioner": ref(prac),
        "code": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/practitioner-role", "code": role}]}],
    }
    if loc is not None:
        resource["location"] = [ref(loc)]
    if specialty is not None:
        resource["specialty"] = [specialty.concept()]
    return resource


def patient(
    *,
    pat_id: str,
    mrn: str,
    given: list[str],
    family: str,
    gender: str,
    birth_date: date,
    phone: str,
    at: datetime,
) -> dict:
    return {
        "resourceType": "Patient",
        "id": pat_id,
        "meta": _meta(1, at),
        "identifier": [
            {
                "use": "usual",
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                "system": MRN_SYSTEM,
                "value": mrn,
            }
        ],
        "active": True,
        "name": [{"use": "official", "family": family, "given": given}],
        "telecom": [{"system": "phone", "value": phone, "use": "mobile"}],
        "gender": gender,
        "birthDate": birth_date.isoformat(),
    }


def service_request(
    *,
    sr_id: str,
    version: int,
    at: datetime,
    status: str,
    priority: str,
    specialty: Specialty,
    pat: dict,
    requester: dict,
    authored: datetime,
    reason: str,
) -> dict:
    return {
        "resourceType": "ServiceRequest",
        "id": sr_id,
        "meta": _meta(version, at),
        "identifier": [{"system": f"{EHR_BASE}/referral", "value": sr_id}],
        "status": status,
        "intent": "order",
        "category": [REFERRAL_CATEGORY],
        "priority": priority,
        "code": {"text": f"Referral to {specialty.display.lower()}"},
        "subject": ref(pat),
        "authoredOn": instant(authored),
        "requester": ref(requester),
        "performerType": specialty.concept(),
        "reasonCode": [{"text": reason}],
    }


def task(
    *, task_id: str, version: int, at: datetime, status: str, sr: dict, pat: dict, requester: dict, authored: datetime
) -> dict:
    return {
        "resourceType": "Task",
        "id": task_id,
        "meta": _meta(version, at),
        "status": status,
        "intent": "order",
        "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]},
        "focus": ref(sr),
        "for": ref(pat),
        "authoredOn": instant(authored),
        "lastModified": instant(at),
        "requester": ref(requester),
    }


def appointment(
    *,
    appt_id: str,
    version: int,
    at: datetime,
    status: str,
    start: datetime,
    end: datetime,
    sr: dict | None,
    pat: dict,
    prac: dict,
    loc: dict,
    specialty: Specialty,
    created: datetime,
    cancel_reason: str = "",
) -> dict:
    resource = {
        "resourceType": "Appointment",
        "id": appt_id,
        "meta": _meta(version, at),
        "status": status,
        "serviceType": [specialty.concept()],
        "start": instant(start),
        "end": instant(end),
        "created": instant(created),
        "participant": [
            {"actor": ref(pat), "required": "required", "status": "accepted"},
            {"actor": ref(prac), "required": "required", "status": "accepted"},
            {"actor": ref(loc), "required": "required", "status": "accepted"},
        ],
    }
    if sr is not None:
        resource["basedOn"] = [ref(sr)]
    if cancel_reason:
        resource["cancelationReason"] = {"text": cancel_reason}
    return resource


def encounter(
    *,
    enc_id: str,
    at: datetime,
    appt: dict,
    sr: dict | None,
    pat: dict,
    prac: dict,
    loc: dict,
    start: datetime,
    end: datetime,
) -> dict:
    resource = {
        "resourceType": "Encounter",
        "id": enc_id,
        "meta": _meta(1, at),
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"},
        "serviceType": appt["serviceType"][0],
        "subject": ref(pat),
        "appointment": [ref(appt)],
        "participant": [{"individual": ref(prac)}],
        "period": {"start": instant(start), "end": instant(end)},
        "location": [{"location": ref(loc)}],
    }
    if sr is not None:
        resource["basedOn"] = [ref(sr)]
    return resource
