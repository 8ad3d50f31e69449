"""MDM T02 → DocumentReference (v2-to-FHIR: TXA[DocumentReference]); the OBX text is the content."""

import base64

from ..message import V2Error, V2Message
from .datatypes import Context, Resource, codeable, entity_identifier, fhir_id, loc, practitioner_ref, when
from .patient import patient, patient_ref

EVENTS = ("T02",)
# TXA-19 availability (table 0273) → DocumentReference.status; TXA-17 completion (0271) → docStatus.
AVAILABILITY = {"AV": "current", "CA": "entered-in-error", "OB": "superseded", "UN": "current"}
COMPLETION = {"AU": "final", "LA": "final", "DO": "final", "IP": "preliminary", "IN": "preliminary",
              "PA": "preliminary", "DI": "preliminary", "CA": "entered-in-error"}  # fmt: skip


def convert(message: V2Message, ctx: Context) -> list[Resource]:
    txa = message.first("TXA")
    if txa is None:
        raise V2Error("The TXA segment is missing.", code="100", ack="AE", location="TXA")
    person = patient(message, ctx)
    subject = patient_ref(person)
    unique = entity_identifier(txa.components(12), ctx)
    if unique is None:
        raise V2Error("TXA-12, the unique document number, is required.", code="101", ack="AE", location=loc(txa, 12))
    kind = codeable(txa.components(2), ctx)
    if kind is None:
        raise V2Error("TXA-2, the document type, is required.", code="101", ack="AE", location=loc(txa, 2))
    document: Resource = {
        "resourceType": "DocumentReference",
        "id": ctx.resolve("DocumentReference", subject["reference"], [unique]) or fhir_id(unique["value"]),
        "masterIdentifier": unique,
        "status": AVAILABILITY.get(txa.get(19).upper(), "current"),
        "type": kind,
        "subject": subject,
    }
    if doc_status := COMPLETION.get(txa.get(17).upper()):
        document["docStatus"] = doc_status
    if date := when(txa, 4, ctx) or when(txa, 6, ctx):
        document["date"] = date
    authors = [a for a in (practitioner_ref(r) for r in txa.reps(5) + txa.reps(9)) if a]
    if authors:
        document["author"] = authors
    text = "\n".join(obx.text(5) for obx in message.all("OBX") if obx.get(2).upper() in ("TX", "FT", "ST", ""))
    attachment: dict = {"contentType": "text/plain; charset=utf-8"}
    if text:
        attachment["data"] = base64.b64encode(text.encode()).decode()
    if title := txa.get(2, 2):
        attachment["title"] = title
    document["content"] = [{"attachment": attachment}]
    return [person, document]
