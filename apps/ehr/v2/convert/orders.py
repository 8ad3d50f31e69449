"""ORM O01 / OML O21 → ServiceRequest (v2-to-FHIR: ORC[ServiceRequest], OBR[ServiceRequest]).

One ServiceRequest per ORC (with the OBR that follows it). ORC-1 order control gives the status
(NW/XO/SC active, CA/DC/OC/OD revoked, HD on-hold); the id comes from the placer order number
(ORC-2, else OBR-2), then the filler's (ORC-3/OBR-3). An order is a referral (category SNOMED
3457005, which the referrals workflow takes) when its code is one of the source's referral
codes (settings.EHR_V2_REFERRAL_CODES) or ORC-29/OBR-4 already says "referral". NTE segments
after the OBR are the request's notes.
"""

from ..message import Segment, V2Error, V2Message
from .datatypes import Context, Resource, annotation, codeable, entity_identifier, fhir_id, loc, practitioner_ref, when
from .patient import patient, patient_ref

EVENTS = ("O01", "O21")
CONTROL_STATUS = {"NW": "active", "XO": "active", "SC": "active", "SN": "active", "RP": "active",
                  "CA": "revoked", "DC": "revoked", "OC": "revoked", "OD": "revoked", "CR": "revoked",
                  "HD": "on-hold", "OH": "on-hold", "RL": "active"}  # fmt: skip
PRIORITY = {"S": "stat", "A": "asap", "R": "routine", "P": "urgent", "C": "urgent", "T": "urgent"}
REFERRAL = {"system": "http://snomed.info/sct", "code": "3457005", "display": "Patient referral"}


def _orders(message: V2Message) -> list[tuple[Segment, Segment | None, list[Segment]]]:
    """Each ORC with the OBR that follows it (before the next ORC) and the NTE segments after that OBR."""
    orders: list[tuple[Segment, Segment | None, list[Segment]]] = []
    for segment in message.segments:
        if segment.name == "ORC":
            orders.append((segment, None, []))
        elif segment.name == "OBR" and orders and orders[-1][1] is None:
            orders[-1] = (orders[-1][0], segment, [])
        elif segment.name == "NTE" and orders and orders[-1][1] is not None:
            orders[-1][2].append(segment)
    return orders


def convert(message: V2Message, ctx: Context) -> list[Resource]:
    pairs = _orders(message)
    if not pairs:
        raise V2Error("The message has no ORC segment.", code="100", ack="AE", location="ORC")
    person = patient(message, ctx)
    subject = patient_ref(person)
    out: list[Resource] = [person]
    for orc, obr, notes in pairs:
        request = _service_request(orc, obr, subject, ctx)
        if annotations := [n for n in (annotation(nte, ctx) for nte in notes) if n]:
            request["note"] = annotations  # v2-to-FHIR: NTE after OBR → ServiceRequest.note
        out.append(request)
    return out


def _service_request(orc: Segment, obr: Segment | None, subject: dict, ctx: Context) -> Resource:
    placer = entity_identifier(orc.components(2), ctx, type_code="PLAC") or (
        entity_identifier(obr.components(2), ctx, type_code="PLAC") if obr else None
    )
    filler = entity_identifier(orc.components(3), ctx, type_code="FILL") or (
        entity_identifier(obr.components(3), ctx, type_code="FILL") if obr else None
    )
    ids = [i for i in (placer, filler) if i]
    if not ids:
        raise V2Error("ORC-2 or ORC-3, the order number, is required.", code="101", ack="AE", location=loc(orc, 2))
    control = orc.get(1).upper()
    if control not in CONTROL_STATUS:
        raise V2Error(
            f"ORC-1 order control {control or '(none)'} is not known.", code="103", ack="AE", location=loc(orc, 1)
        )
    resource: Resource = {
        "resourceType": "ServiceRequest",
        "id": ctx.resolve("ServiceRequest", subject["reference"], ids) or fhir_id(ids[0]["value"]),
        "identifier": ids,
        "status": CONTROL_STATUS[control],
        "intent": "order",
        "subject": subject,
    }
    code = codeable(obr.components(4), ctx) if obr else None
    if code is None:
        raise V2Error("OBR-4, what is ordered, is required.", code="101", ack="AE", location="OBR^1^4")
    resource["code"] = code
    priority = (obr.get(5) if obr else "") or orc.get(7, 6)
    if priority.upper() in PRIORITY:
        resource["priority"] = PRIORITY[priority.upper()]
    if authored := when(orc, 9, ctx):
        resource["authoredOn"] = authored
    requester = practitioner_ref(orc.components(12)) or (practitioner_ref(obr.components(16)) if obr else None)
    if requester:
        resource["requester"] = requester
    if obr and (reason := codeable(obr.components(31), ctx)):
        resource["reasonCode"] = [reason]
    if _is_referral(orc, code, ctx):
        resource["category"] = [{"coding": [REFERRAL]}]
    return resource


def _is_referral(orc: Segment, code: dict, ctx: Context) -> bool:
    codes = {c.get("code", "").upper() for c in code.get("coding", [])}
    texts = [code.get("text", ""), *(c.get("display", "") for c in code.get("coding", []))]
    return bool(
        codes & {c.upper() for c in ctx.referral_codes}
        or "3457005" in codes
        or orc.get(29).upper() in ("REF", "REFERRAL")
        or any("referral" in t.lower() for t in texts)
    )
