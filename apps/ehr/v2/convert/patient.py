"""PID → Patient and PV1 → Encounter (v2-to-FHIR segment maps PID[Patient], PV1[Encounter])."""

from typing import Any

from ..message import SUB, Segment, V2Error, V2Message, v2_date
from .datatypes import (
    Context,
    Resource,
    address,
    codeable,
    contact_point,
    fhir_id,
    human_name,
    identifier,
    loc,
    practitioner_ref,
    table_code,
    when,
)

GENDER = {"M": "male", "F": "female", "O": "other", "A": "other", "U": "unknown", "N": "unknown"}
# PV1-2 patient class (table 0004) → Encounter.class (v3 ActCode).
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PATIENT_CLASS = {
    "I": ("IMP", "inpatient encounter"),
    "O": ("AMB", "ambulatory"),
    "E": ("EMER", "emergency"),
    "P": ("PRENC", "pre-admission"),
    "R": ("AMB", "ambulatory"),
    "B": ("AMB", "ambulatory"),
}


def patient_identifiers(pid: Segment, ctx: Context) -> list[dict[str, Any]]:
    found = [identifier(rep, ctx) for rep in pid.reps(3)]
    # PID-2 (external id, withdrawn in 2.7) and PID-4 (alternate id) are still sent by many.
    found += [identifier(rep, ctx) for rep in pid.reps(2) + pid.reps(4)]
    return [i for i in found if i]


def patient_id(identifiers: list[dict[str, Any]], ctx: Context) -> str:
    """The store's patient with one of these identifiers, else an id made of the first one."""
    if existing := ctx.resolve("Patient", "", identifiers):
        return existing
    first = identifiers[0]
    return fhir_id(first.get("assigner", {}).get("display", ""), first["value"])


def patient(message: V2Message, ctx: Context, pid: Segment | None = None) -> Resource:
    pid = pid or message.first("PID")
    if pid is None:
        raise V2Error("The PID segment is missing.", code="100", ack="AE", location="PID")
    identifiers = patient_identifiers(pid, ctx)
    if not identifiers:
        raise V2Error("PID-3, the patient identifier list, is empty.", code="101", ack="AE", location=loc(pid, 3))
    out: Resource = {"resourceType": "Patient", "id": patient_id(identifiers, ctx), "identifier": identifiers}
    if names := [n for n in (human_name(r) for r in pid.reps(5)) if n]:
        out["name"] = names
    if birth := pid.get(7):
        if not (day := v2_date(birth)):
            raise V2Error("PID-7 is not a date (YYYYMMDD).", code="102", ack="AE", location=loc(pid, 7))
        out["birthDate"] = day
    if sex := pid.get(8).upper():
        out["gender"] = GENDER.get(sex, "unknown")
    if addresses := [a for a in (address(r) for r in pid.reps(11)) if a]:
        out["address"] = addresses
    telecom = [t for t in (contact_point(r, "home") for r in pid.reps(13)) if t]
    telecom += [t for t in (contact_point(r, "work") for r in pid.reps(14)) if t]
    if telecom:
        out["telecom"] = telecom
    if language := codeable(pid.components(15), ctx):
        out["communication"] = [{"language": language}]
    if marital := pid.get(16):
        out["maritalStatus"] = table_code("0002", marital)
    if deceased := when(pid, 29, ctx):
        out["deceasedDateTime"] = deceased
    elif pid.get(30).upper() == "Y":
        out["deceasedBoolean"] = True
    out["active"] = True
    return out


def patient_ref(resource: Resource) -> dict[str, str]:
    return {"reference": f"Patient/{resource['id']}"}


def encounter(message: V2Message, ctx: Context, patient_resource: Resource, *, status: str) -> Resource | None:
    """PV1 → Encounter, or None when there is no PV1 (or an empty one) to describe a visit."""
    pv1 = message.first("PV1")
    if pv1 is None or not (pv1.get(19) or pv1.get(2)):
        return None
    subject = patient_ref(patient_resource)
    ids = [i for i in (identifier(r, ctx, type_code="VN") for r in pv1.reps(19)) if i]
    existing = ctx.resolve("Encounter", subject["reference"], ids) if ids else None
    if not ids:
        # No visit number: one encounter per patient and admit time, which A01/A03 share.
        admit = pv1.get(44) or message.header.control_id
        encounter_id = fhir_id(patient_resource["id"], "enc", admit)
    else:
        encounter_id = existing or fhir_id("enc", ids[0]["value"])
    klass, display = PATIENT_CLASS.get(pv1.get(2).upper(), ("AMB", "ambulatory"))
    out: Resource = {
        "resourceType": "Encounter",
        "id": encounter_id,
        "status": status,
        "class": {"system": ACT_CODE, "code": klass, "display": display},
        "subject": subject,
    }
    if ids:
        out["identifier"] = ids
    period = {}
    if start := when(pv1, 44, ctx):
        period["start"] = start
    if end := when(pv1, 45, ctx):
        period["end"] = end
    if period:
        out["period"] = period
    if service := pv1.get(10):
        out["serviceType"] = table_code("0069", service)
    participants = []
    for number, role in ((7, "ATND"), (8, "REF"), (17, "ADM")):
        for rep in pv1.reps(number):
            if actor := practitioner_ref(rep):
                participants.append({"type": [_participation(role)], "individual": actor})
    if participants:
        out["participant"] = participants
    location = pv1.components(3)
    if location and any(location[:4]):
        point_of_care = location[0].strip()
        facility = location[3].split(SUB)[0].strip() if len(location) > 3 else ""
        out["location"] = [{"location": {"reference": f"Location/{fhir_id(facility, point_of_care)}"}}]
    return out


def _participation(code: str) -> dict[str, Any]:
    return {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": code}]}
