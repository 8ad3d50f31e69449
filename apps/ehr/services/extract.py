"""Pure functions: the searchable fields of each stored type, taken from a validated resource.

References are normalised to ``Type/id`` (absolute URLs and ``_history`` suffixes dropped;
contained ``#x`` references kept as they are). Codes are ``system|code`` of the first coding.
Partial dates become midnight UTC. Values are cut to their column's length.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from .envelope import REFERENCE_RE

Resource = dict[str, Any]


def ref(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    reference = str(value.get("reference") or "")
    if reference.startswith("#"):
        return reference[:200]
    match = REFERENCE_RE.search(reference.split("?")[0])
    return f"{match['type']}/{match['id']}" if match else ""


def first(values: Any) -> Any:
    return values[0] if isinstance(values, list) and values else (values if isinstance(values, dict) else None)


def code(concept: Any) -> str:
    concept = first(concept)
    if not isinstance(concept, dict):
        return ""
    coding = first(concept.get("coding"))
    if isinstance(coding, dict) and coding.get("code"):
        return f"{coding.get('system', '')}|{coding['code']}"[:300]
    return ""


def display(concept: Any) -> str:
    concept = first(concept)
    if not isinstance(concept, dict):
        return ""
    coding = first(concept.get("coding")) or {}
    return str(concept.get("text") or coding.get("display") or "")[:300]


def instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        if len(value) <= 10:  # YYYY, YYYY-MM, YYYY-MM-DD
            parts = [int(p) for p in value.split("-")] + [1, 1]
            return datetime(parts[0], parts[1], parts[2], tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def a_date(value: Any) -> date | None:
    moment = instant(value)
    return moment.date() if moment else None


def text(value: Any, length: int) -> str:
    return str(value or "")[:length]


def human_name(resource: Resource) -> tuple[str, str]:
    name = first(resource.get("name")) or {}
    given = name.get("given") or []
    return text(name.get("family"), 200), text(" ".join(str(g) for g in given), 200)


def identifier(resource: Resource) -> str:
    ident = first(resource.get("identifier")) or {}
    return text(ident.get("value"), 100)


def participant_ref(resource: Resource, resource_type: str) -> str:
    for participant in resource.get("participant") or []:
        found = ref(participant.get("actor"))
        if found.startswith(f"{resource_type}/"):
            return found
    return ""


def period_or(resource: Resource, *names: str) -> datetime | None:
    for name in names:
        value = resource.get(name)
        if isinstance(value, dict):
            value = value.get("start")
        if found := instant(value):
            return found
    return None


def _patient(r: Resource) -> dict:
    family, given = human_name(r)
    return {
        "family": family,
        "given": given,
        "birth_date": a_date(r.get("birthDate")),
        "gender": text(r.get("gender"), 16),
        "mrn": identifier(r),
        "active": r.get("active"),
    }


def _practitioner(r: Resource) -> dict:
    family, given = human_name(r)
    return {"family": family, "given": given, "identifier": identifier(r), "active": r.get("active")}


def _practitioner_role(r: Resource) -> dict:
    return {
        "practitioner_ref": ref(r.get("practitioner")),
        "organization_ref": ref(r.get("organization")),
        "location_ref": ref(first(r.get("location"))),
        "role": code(r.get("code")),
        "specialty": code(r.get("specialty")),
        "active": r.get("active"),
    }


def _organization(r: Resource) -> dict:
    return {
        "name": text(r.get("name"), 300),
        "identifier": identifier(r),
        "part_of_ref": ref(r.get("partOf")),
        "active": r.get("active"),
    }


def _location(r: Resource) -> dict:
    return {
        "name": text(r.get("name"), 300),
        "status": text(r.get("status"), 32),
        "managing_organization_ref": ref(r.get("managingOrganization")),
    }


def _encounter(r: Resource) -> dict:
    klass = r.get("class")
    period = r.get("period") or {}
    return {
        "status": text(r.get("status"), 32),
        "class_code": f"{klass.get('system', '')}|{klass.get('code', '')}"[:300] if isinstance(klass, dict) else "",
        "subject_ref": ref(r.get("subject")),
        "appointment_ref": ref(first(r.get("appointment"))),
        "based_on_ref": ref(first(r.get("basedOn"))),
        "service_provider_ref": ref(r.get("serviceProvider")),
        "location_ref": ref((first(r.get("location")) or {}).get("location")),
        "period_start": instant(period.get("start")),
        "period_end": instant(period.get("end")),
    }


def _appointment(r: Resource) -> dict:
    return {
        "status": text(r.get("status"), 32),
        "start": instant(r.get("start")),
        "end": instant(r.get("end")),
        "patient_ref": participant_ref(r, "Patient"),
        "practitioner_ref": participant_ref(r, "Practitioner"),
        "location_ref": participant_ref(r, "Location"),
        "based_on_ref": ref(first(r.get("basedOn"))),
        "appointment_type": code(r.get("appointmentType")),
        "service_type": code(r.get("serviceType")),
        "slot_ref": ref(first(r.get("slot"))),
    }


def _schedule(r: Resource) -> dict:
    actors = [ref(a) for a in r.get("actor") or []]
    return {
        "active": r.get("active"),
        "service_type": code(r.get("serviceType")),
        "specialty": code(r.get("specialty")),
        "specialty_display": display(r.get("specialty")),
        "practitioner_ref": next((a for a in actors if a.startswith("Practitioner/")), ""),
        "location_ref": next((a for a in actors if a.startswith("Location/")), ""),
        "comment": text(r.get("comment"), 300),
    }


def _slot(r: Resource) -> dict:
    return {
        "schedule_ref": ref(r.get("schedule")),
        "status": text(r.get("status"), 32),
        "start": instant(r.get("start")),
        "end": instant(r.get("end")),
        "service_type": code(r.get("serviceType")),
        "specialty": code(r.get("specialty")),
        "overbooked": r.get("overbooked"),
    }


def _service_request(r: Resource) -> dict:
    return {
        "status": text(r.get("status"), 32),
        "intent": text(r.get("intent"), 32),
        "priority": text(r.get("priority"), 16),
        "category": code(r.get("category")),
        "code": code(r.get("code")),
        "code_display": display(r.get("code")),
        "subject_ref": ref(r.get("subject")),
        "requester_ref": ref(r.get("requester")),
        "performer_ref": ref(first(r.get("performer"))),
        "reason_code": code(r.get("reasonCode")),
        "reason_display": display(r.get("reasonCode")),
        "authored_on": instant(r.get("authoredOn")),
        "occurrence_start": period_or(r, "occurrenceDateTime", "occurrencePeriod"),
    }


def _task(r: Resource) -> dict:
    return {
        "status": text(r.get("status"), 32),
        "business_status": code(r.get("businessStatus")),
        "intent": text(r.get("intent"), 32),
        "priority": text(r.get("priority"), 16),
        "code": code(r.get("code")),
        "focus_ref": ref(r.get("focus")),
        "for_ref": ref(r.get("for")),
        "based_on_ref": ref(first(r.get("basedOn"))),
        "owner_ref": ref(r.get("owner")),
        "requester_ref": ref(r.get("requester")),
        "authored_on": instant(r.get("authoredOn")),
        "last_modified": instant(r.get("lastModified")),
    }


def _observation(r: Resource) -> dict:
    quantity: Any = r.get("valueQuantity")
    if not isinstance(quantity, dict):
        quantity = {}
    value_text = r.get("valueString") or display(r.get("valueCodeableConcept"))
    ref_range = first(r.get("referenceRange")) or {}
    number = quantity.get("value")
    return {
        "status": text(r.get("status"), 32),
        "category": code(r.get("category")),
        "code": code(r.get("code")),
        "code_display": display(r.get("code")),
        "subject_ref": ref(r.get("subject")),
        "based_on_ref": ref(first(r.get("basedOn"))),
        "performer_ref": ref(first(r.get("performer"))),
        "effective": period_or(r, "effectiveDateTime", "effectivePeriod", "effectiveInstant"),
        "issued": instant(r.get("issued")),
        "value_number": float(number) if isinstance(number, int | float) else None,
        "value_unit": text(quantity.get("unit") or quantity.get("code"), 64),
        "value_text": text(value_text, 500),
        "interpretation": code(r.get("interpretation")),
        "reference_low": (ref_range.get("low") or {}).get("value"),
        "reference_high": (ref_range.get("high") or {}).get("value"),
        "reference_text": text(ref_range.get("text"), 300),
        "member_refs": [ref(m) for m in r.get("hasMember") or [] if ref(m)],
    }


def _diagnostic_report(r: Resource) -> dict:
    return {
        "status": text(r.get("status"), 32),
        "category": code(r.get("category")),
        "code": code(r.get("code")),
        "code_display": display(r.get("code")),
        "subject_ref": ref(r.get("subject")),
        "based_on_ref": ref(first(r.get("basedOn"))),
        "performer_ref": ref(first(r.get("performer"))),
        "effective": period_or(r, "effectiveDateTime", "effectivePeriod"),
        "issued": instant(r.get("issued")),
        "result_refs": [ref(m) for m in r.get("result") or [] if ref(m)],
        "conclusion": str(r.get("conclusion") or ""),
    }


def _document_reference(r: Resource) -> dict:
    context: Any = r.get("context")
    if not isinstance(context, dict):
        context = {}
    return {
        "status": text(r.get("status"), 32),
        "doc_status": text(r.get("docStatus"), 32),
        "type": code(r.get("type")),
        "type_display": display(r.get("type")),
        "category": code(r.get("category")),
        "subject_ref": ref(r.get("subject")),
        "author_ref": ref(first(r.get("author"))),
        "encounter_ref": ref(first(context.get("encounter"))),
        "date": instant(r.get("date")),
        "description": text(r.get("description"), 500),
    }


def generic_keys(r: Resource) -> dict:
    """The generic store's search keys of any other type: the patient it is about, its status."""
    patient = ""
    for name in ("patient", "subject", "beneficiary"):
        candidate = ref(r.get(name))
        if candidate.startswith("Patient/"):
            patient = candidate
            break
    status = r.get("status")
    return {"patient_ref": patient, "status": text(status, 64) if isinstance(status, str) else ""}


EXTRACTORS: dict[str, Callable[[Resource], dict]] = {
    "Patient": _patient,
    "Practitioner": _practitioner,
    "PractitionerRole": _practitioner_role,
    "Organization": _organization,
    "Location": _location,
    "Encounter": _encounter,
    "Appointment": _appointment,
    "Schedule": _schedule,
    "Slot": _slot,
    "ServiceRequest": _service_request,
    "Task": _task,
    "Observation": _observation,
    "DiagnosticReport": _diagnostic_report,
    "DocumentReference": _document_reference,
}


def is_ref(value: str, *types: str) -> bool:
    """Whether ``value`` is a reference as the store keeps them (``Type/id``), of one of ``types`` if given."""
    if not value or value.startswith("#") or ref({"reference": value}) != value:
        return False
    return not types or value.partition("/")[0] in types
