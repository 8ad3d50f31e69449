"""ORU R01 → DiagnosticReport + Observations (v2-to-FHIR: OBR[DiagnosticReport], OBX[Observation]).

One DiagnosticReport per OBR, with the OBX segments that follow it as its results. OBX-2 says
the value's type (NM, SN, ST/TX/FT, CE/CWE, DT/DTM); OBX-7 the reference range ("3.5-5.0",
">60", "<5", or text); OBX-8 the abnormal flags (table 0078) as interpretation codes; OBX-11 and
OBR-25 the status (F final, P preliminary, C corrected, X cancelled, W wrong: entered in error).
NTE segments after an OBX become its notes; NTE segments after the OBR (before its first OBX) are
the report's notes: R4's DiagnosticReport has no ``note``, so they go in R5's element carried
into R4 by its cross-version extension (as the v2-to-FHIR ORU map's NTE → DiagnosticReport.note).
"""

import re
from typing import Any

from ..message import Segment, V2Error, V2Message
from .datatypes import (
    V2,
    Context,
    Resource,
    annotation,
    codeable,
    entity_identifier,
    fhir_id,
    loc,
    practitioner_ref,
    when,
)
from .patient import patient, patient_ref

EVENTS = ("R01",)
RESULT_STATUS = {"F": "final", "C": "corrected", "P": "preliminary", "R": "registered", "I": "registered",
                 "S": "partial", "A": "partial", "X": "cancelled", "W": "entered-in-error", "D": "entered-in-error",
                 "U": "final", "O": "registered", "N": "cancelled"}  # fmt: skip
OBSERVATION_STATUS = {**RESULT_STATUS, "C": "corrected", "S": "preliminary", "A": "amended"}
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
FLAGS = {"L", "H", "LL", "HH", "LU", "HU", "N", "A", "AA", "<", ">", "U", "D", "B", "W", "R", "I", "S", "MS", "VS",
         "POS", "NEG", "IND", "DET", "ND"}  # fmt: skip
NUMBER = re.compile(r"^[<>]?=?\s*-?\d+(\.\d+)?$")
COMPARATOR = {"<": "<", ">": ">", "<=": "<=", ">=": ">="}
UCUM = "http://unitsofmeasure.org"
REPORT_NOTE = "http://hl7.org/fhir/5.0/StructureDefinition/extension-DiagnosticReport.note"


def convert(message: V2Message, ctx: Context) -> list[Resource]:
    person = patient(message, ctx)
    subject = patient_ref(person)
    out: list[Resource] = [person]
    groups: list[tuple[Segment, list[tuple[Segment, list[str]]]]] = []
    report_notes: dict[int, list[Segment]] = {}
    for segment in message.segments:
        if segment.name == "OBR":
            groups.append((segment, []))
        elif segment.name == "OBX":
            if not groups:
                raise V2Error("An OBX comes before any OBR.", code="100", ack="AE", location="OBX")
            groups[-1][1].append((segment, []))
        elif segment.name == "NTE" and groups and groups[-1][1]:
            groups[-1][1][-1][1].append(segment.text(3))
        elif segment.name == "NTE" and groups:
            report_notes.setdefault(id(groups[-1][0]), []).append(segment)
    if not groups:
        raise V2Error("The message has no OBR segment.", code="100", ack="AE", location="OBR")
    orc = message.first("ORC")
    for obr, observations in groups:
        made = _report(obr, observations, subject, orc, ctx)
        notes = [n for n in (annotation(nte, ctx) for nte in report_notes.get(id(obr), [])) if n]
        if notes:
            made[-1].setdefault("extension", []).extend({"url": REPORT_NOTE, "valueAnnotation": n} for n in notes)
        out.extend(made)
    return out


def _report(obr: Segment, observations: list, subject: dict, orc: Segment | None, ctx: Context) -> list[Resource]:
    filler = entity_identifier(obr.components(3), ctx, type_code="FILL") or (
        entity_identifier(orc.components(3), ctx, type_code="FILL") if orc else None
    )
    placer = entity_identifier(obr.components(2), ctx, type_code="PLAC") or (
        entity_identifier(orc.components(2), ctx, type_code="PLAC") if orc else None
    )
    ids = [i for i in (filler, placer) if i]
    if not ids:
        raise V2Error("OBR-3 or OBR-2, the order number, is required.", code="101", ack="AE", location=loc(obr, 3))
    code = codeable(obr.components(4), ctx)
    if code is None:
        raise V2Error("OBR-4, what was tested, is required.", code="101", ack="AE", location=loc(obr, 4))
    status_code = obr.get(25).upper() or "F"
    if status_code not in RESULT_STATUS:
        raise V2Error(f"OBR-25 result status {status_code} is not known.", code="103", ack="AE", location=loc(obr, 25))
    report_id = ctx.resolve("DiagnosticReport", subject["reference"], ids) or fhir_id(ids[0]["value"])
    report: Resource = {
        "resourceType": "DiagnosticReport",
        "id": report_id,
        "identifier": ids,
        "status": RESULT_STATUS[status_code],
        "code": code,
        "subject": subject,
    }
    if placer:
        report["basedOn"] = [{"reference": f"ServiceRequest/{fhir_id(placer['value'])}"}]
    if effective := when(obr, 7, ctx):
        report["effectiveDateTime"] = effective
    if issued := when(obr, 22, ctx):
        report["issued"] = issued
    if performer := practitioner_ref(obr.components(32)):
        report["resultsInterpreter"] = [performer]
    results = []
    out = []
    for number, (obx, notes) in enumerate(observations, start=1):
        observation = _observation(obx, notes, report, number, ctx)
        results.append({"reference": f"Observation/{observation['id']}"})
        out.append(observation)
    if results:
        report["result"] = results
    return [*out, report]


def _observation(obx: Segment, notes: list[str], report: Resource, number: int, ctx: Context) -> Resource:
    code = codeable(obx.components(3), ctx)
    if code is None:
        raise V2Error("OBX-3, what was observed, is required.", code="101", ack="AE", location=f"OBX^{number}^3")
    status_code = obx.get(11).upper() or "F"
    if status_code not in OBSERVATION_STATUS:
        raise V2Error(
            f"OBX-11 result status {status_code} is not known.", code="103", ack="AE", location=f"OBX^{number}^11"
        )
    sub_id = obx.get(4)
    observation: Resource = {
        "resourceType": "Observation",
        "id": fhir_id(report["id"], obx.get(1) or str(number), sub_id),
        "status": OBSERVATION_STATUS[status_code],
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}
        ],
        "code": code,
        "subject": report["subject"],
    }
    if instance := entity_identifier(obx.components(21), ctx):
        observation["identifier"] = [instance]
    value = _value(obx, number, ctx)
    if value:
        observation.update(value)
    elif observation["status"] in ("final", "corrected", "amended", "preliminary") and obx.get(2):
        observation["dataAbsentReason"] = {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "unknown"}]
        }
    if ranges := _reference_range(obx.get(7), obx.components(6)):
        observation["referenceRange"] = [ranges]
    flags = [f.strip().upper() for f in obx.field(8).split(obx._message.header.encoding_chars[1]) if f.strip()]
    if flags:
        observation["interpretation"] = [
            {"coding": [{"system": INTERPRETATION if f in FLAGS else V2 + "0078", "code": f}]} for f in flags
        ]
    effective = when(obx, 14, ctx) or report.get("effectiveDateTime", "")
    if effective:
        observation["effectiveDateTime"] = effective
    if issued := report.get("issued"):
        observation["issued"] = issued
    if notes := [n for n in notes if n]:
        observation["note"] = [{"text": n} for n in notes]
    return observation


def _value(obx: Segment, number: int, ctx: Context) -> dict[str, Any]:
    kind = obx.get(2).upper()
    where = f"OBX^{number}^5"
    reps = obx.reps(5)
    if not reps or not any(reps[0]):
        return {}
    first = reps[0]
    if kind == "NM":
        raw = first[0].strip()
        if not NUMBER.match(raw):
            raise V2Error("OBX-5 is not a number, as OBX-2 (NM) says it is.", code="102", ack="AE", location=where)
        return {"valueQuantity": _quantity(raw, obx.components(6))}
    if kind == "SN":
        comparator, num1, separator, num2 = ([c.strip() for c in first] + ["", "", "", ""])[:4]
        if separator in (":", "/") and num1 and num2:
            return {"valueRatio": {"numerator": {"value": float(num1)}, "denominator": {"value": float(num2)}}}
        if not NUMBER.match(num1 or "x"):
            raise V2Error("OBX-5 is not a structured number.", code="102", ack="AE", location=where)
        quantity = _quantity(num1, obx.components(6))
        if comparator in COMPARATOR:
            quantity["comparator"] = COMPARATOR[comparator]
        return {"valueQuantity": quantity}
    if kind in ("CE", "CWE", "CNE", "CF"):
        concept = codeable(first, ctx)
        return {"valueCodeableConcept": concept} if concept else {}
    if kind in ("DT", "DTM", "TS"):
        value = when(obx, 5, ctx)
        return {"valueDateTime": value} if value else {}
    text = "\n".join(obx._message.header.encoding_chars[0].join(r) for r in reps)
    return {"valueString": text[:10000]}


def _quantity(raw: str, units: list[str]) -> dict[str, Any]:
    comparator = ""
    for symbol in ("<=", ">=", "<", ">"):
        if raw.startswith(symbol):
            comparator, raw = symbol, raw[len(symbol) :].strip()
            break
    quantity: dict[str, Any] = {"value": float(raw) if "." in raw else int(raw)}
    if comparator:
        quantity["comparator"] = comparator
    if units and units[0].strip():
        quantity["unit"] = units[1].strip() if len(units) > 1 and units[1].strip() else units[0].strip()
        quantity["code"] = units[0].strip()
        system = units[2].strip().upper() if len(units) > 2 else ""
        if system in ("UCUM", "ANSI+", "ISO+", ""):
            quantity["system"] = UCUM
    return quantity


def _reference_range(text: str, units: list[str]) -> dict[str, Any] | None:
    text = text.strip()
    if not text:
        return None
    unit = {k: v for k, v in _quantity("0", units).items() if k in ("unit", "code", "system")}
    match = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)", text)
    if match:
        return {
            "low": {"value": float(match[1]), **unit},
            "high": {"value": float(match[2]), **unit},
            "text": text,
        }
    match = re.fullmatch(r"([<>]=?)\s*(-?\d+(?:\.\d+)?)", text)
    if match:
        key = "high" if match[1].startswith("<") else "low"
        return {key: {"value": float(match[2]), **unit}, "text": text}
    return {"text": text[:300]}
