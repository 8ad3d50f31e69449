"""FHIR R4 builders for the clinical side of the simulated EHR: lab orders and results, pre-visit
questionnaires and consents (pure dicts, no randomness; see fhir.py for the conventions)."""

from dataclasses import dataclass
from datetime import datetime

from .fhir import EHR_BASE, SNOMED, _meta, instant, ref

LOINC = "http://loinc.org"
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
# The demo EHR's own lab test codes and flags: local codes the terminology maps translate.
LOCAL_LAB = f"{EHR_BASE}/CodeSystem/lab-test"
LOCAL_FLAG = f"{EHR_BASE}/CodeSystem/lab-flag"
# The North Clinic's local order priority (apps/terminology's demo map; "T" and "P" are not mapped yet).
NORTH_PRIORITY = "http://north-ehr.example.org/fhir/CodeSystem/order-priority"
LAB_ORDER_CATEGORY = {"coding": [{"system": SNOMED, "code": "108252007", "display": "Laboratory procedure"}]}
PRE_VISIT_QUESTIONNAIRE = f"{EHR_BASE}/Questionnaire/pre-visit"
INTERPRETATIONS = {  # code: (display, local flag)
    "N": ("Normal", "NORM"),
    "L": ("Low", "LO"),
    "H": ("High", "HI"),
    "LL": ("Critical low", "CRIT-LO"),
    "HH": ("Critical high", "CRIT-HI"),
}


@dataclass(frozen=True)
class Analyte:
    loinc: str
    local: str  # the demo EHR's code (LOCAL_LAB)
    display: str
    unit: str
    low: float
    high: float
    critical_low: float
    critical_high: float
    decimals: int = 1


@dataclass(frozen=True)
class Panel:
    loinc: str
    local: str
    display: str
    analytes: tuple[Analyte, ...]


def _concept(loinc: str, local: str, display: str) -> dict:
    """The LOINC and the EHR's local code; a test without a LOINC carries only its local code."""
    codings = [{"system": LOINC, "code": loinc, "display": display}] if loinc else []
    return {"coding": [*codings, {"system": LOCAL_LAB, "code": local, "display": display}], "text": display}


def laboratory(*, org_id: str, name: str, at: datetime) -> dict:
    return {
        "resourceType": "Organization",
        "id": org_id,
        "meta": _meta(1, at),
        "identifier": [{"system": f"{EHR_BASE}/organization", "value": org_id}],
        "active": True,
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "prov"}]}],
        "name": name,
    }


def lab_order(
    *, sr_id: str, at: datetime, panel: Panel, pat: dict, requester: dict, priority: str, local_priority: str | None
) -> dict:
    resource = {
        "resourceType": "ServiceRequest",
        "id": sr_id,
        "meta": _meta(1, at),
        "identifier": [{"system": f"{EHR_BASE}/lab-order", "value": sr_id}],
        "status": "active",
        "intent": "order",
        "category": [LAB_ORDER_CATEGORY],
        "priority": priority,
        "code": _concept(panel.loinc, panel.local, panel.display),
        "subject": ref(pat),
        "authoredOn": instant(at),
        "requester": ref(requester),
    }
    if local_priority:
        resource["orderDetail"] = [{"coding": [{"system": NORTH_PRIORITY, "code": local_priority}]}]
    return resource


def observation(
    *,
    obs_id: str,
    version: int,
    at: datetime,
    status: str,
    analyte: Analyte,
    value: float,
    interpretation: str,
    pat: dict,
    order: dict,
    performer: dict,
    effective: datetime,
) -> dict:
    display, flag = INTERPRETATIONS[interpretation]
    return {
        "resourceType": "Observation",
        "id": obs_id,
        "meta": _meta(version, at),
        "status": status,
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": "laboratory", "display": "Laboratory"}]}],
        "code": _concept(analyte.loinc, analyte.local, analyte.display),
        "subject": ref(pat),
        "basedOn": [ref(order)],
        "performer": [ref(performer)],
        "effectiveDateTime": instant(effective),
        "issued": instant(at),
        "valueQuantity": {
            "value": round(value, analyte.decimals),
            "unit": analyte.unit,
            "system": "http://unitsofmeasure.org",
            "code": analyte.unit,
        },
        "interpretation": [
            {
                "coding": [
                    {"system": V3_INTERPRETATION, "code": interpretation, "display": display},
                    {"system": LOCAL_FLAG, "code": flag},
                ]
            }
        ],
        "referenceRange": [
            {
                "low": {"value": analyte.low, "unit": analyte.unit},
                "high": {"value": analyte.high, "unit": analyte.unit},
                "text": f"{analyte.low:g}–{analyte.high:g} {analyte.unit}",
            }
        ],
    }


def diagnostic_report(
    *,
    dr_id: str,
    version: int,
    at: datetime,
    status: str,
    panel: Panel,
    pat: dict,
    order: dict,
    performer: dict,
    effective: datetime,
    results: list[dict],
    conclusion: str,
) -> dict:
    resource = {
        "resourceType": "DiagnosticReport",
        "id": dr_id,
        "meta": _meta(version, at),
        "identifier": [{"system": f"{EHR_BASE}/lab-report", "value": dr_id}],
        "basedOn": [ref(order)],
        "status": status,
        "category": [{"coding": [{"system": V2_0074, "code": "LAB", "display": "Laboratory"}]}],
        "code": _concept(panel.loinc, panel.local, panel.display),
        "subject": ref(pat),
        "effectiveDateTime": instant(effective),
        "issued": instant(at),
        "performer": [ref(performer)],
        "result": [ref(r) for r in results],
    }
    if conclusion:
        resource["conclusion"] = conclusion
    return resource


def questionnaire_response(
    *, qr_id: str, at: datetime, pat: dict, appt: dict, answers: list[tuple[str, str, bool | str]]
) -> dict:
    return {
        "resourceType": "QuestionnaireResponse",
        "id": qr_id,
        "meta": _meta(1, at),
        "extension": [{"url": f"{EHR_BASE}/StructureDefinition/appointment", "valueReference": ref(appt)}],
        "questionnaire": PRE_VISIT_QUESTIONNAIRE,
        "status": "completed",
        "subject": ref(pat),
        "authored": instant(at),
        "source": ref(pat),
        "item": [
            {
                "linkId": link_id,
                "text": text,
                "answer": [{"valueBoolean": value} if isinstance(value, bool) else {"valueString": value}],
            }
            for link_id, text, value in answers
        ],
    }


def consent_document(*, doc_id: str, at: datetime, pat: dict, appt: dict, title: str) -> dict:
    return {
        "resourceType": "DocumentReference",
        "id": doc_id,
        "meta": _meta(1, at),
        "status": "current",
        "docStatus": "final",
        "type": {"coding": [{"system": LOINC, "code": "59284-0", "display": "Consent Document"}], "text": title},
        "category": [{"coding": [{"system": f"{EHR_BASE}/CodeSystem/document-category", "code": "consent"}]}],
        "subject": ref(pat),
        "date": instant(at),
        "author": [ref(pat)],
        "description": f"{title} (signed)",
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "url": f"{EHR_BASE}/Binary/{doc_id}",
                    "title": title,
                    "creation": instant(at),
                }
            }
        ],
        "context": {"related": [ref(appt)]},
    }
