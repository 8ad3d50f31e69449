"""MDM T02 → DocumentReference (v2-to-FHIR: TXA[DocumentReference]).

The text OBX segments (TX, FT, ST) are one text/plain attachment; each embedded document (an ED
OBX: source ^ type of data ^ subtype ^ encoding ^ data) is an attachment of its own, base64 with
its content type (type/subtype, e.g. application/pdf), as v2-to-FHIR's ED → Attachment says.
"""

import base64
import binascii
import re
from typing import Any

from ..message import SUB, Segment, V2Error, V2Message
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
    observations = message.all("OBX")
    text = "\n".join(obx.text(5) for obx in observations if obx.get(2).upper() in ("TX", "FT", "ST", ""))
    title = txa.get(2, 2)
    embedded = [
        _embedded(obx, number, title) for number, obx in enumerate(observations, start=1) if obx.get(2).upper() == "ED"
    ]
    content = []
    if text or not embedded:
        attachment: dict = {"contentType": "text/plain; charset=utf-8"}
        if text:
            attachment["data"] = base64.b64encode(text.encode()).decode()
        if title:
            attachment["title"] = title
        content.append({"attachment": attachment})
    document["content"] = [*content, *({"attachment": a} for a in embedded)]
    return [person, document]


# ED-2 type of data (HL7 table 0191) → MIME type; a MIME type's own name is taken as it is.
DATA_TYPES = {"AP": "application", "IM": "image", "AU": "audio", "TEXT": "text", "TX": "text", "NS": "application",
              "SI": "application", "SD": "application", "MULTIPART": "multipart"}  # fmt: skip
MIME_PART = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


def _embedded(obx: Segment, number: int, title: str) -> dict[str, Any]:
    """An ED observation value → Attachment (data base64, content type from ED-2/ED-3)."""
    where = f"OBX^{number}^5"
    ed = [c.split(SUB)[0].strip() for c in obx.components(5)] + [""] * 5
    kind, subtype, encoding, data = ed[1].lower(), ed[2].lower(), ed[3].upper(), ed[4]
    kind = DATA_TYPES.get(kind.upper(), kind)
    if not data:
        raise V2Error("OBX-5 holds no embedded document (ED-5 is empty).", code="101", ack="AE", location=where)
    if not (MIME_PART.match(kind or "") and MIME_PART.match(subtype or "")):
        raise V2Error(
            "OBX-5's type of data and subtype (ED-2, ED-3) do not name a content type, e.g. AP^PDF.",
            code="102", ack="AE", location=where,
        )  # fmt: skip
    try:
        if encoding in ("BASE64", "B64"):
            raw = base64.b64decode(re.sub(r"\s+", "", data), validate=True)
        elif encoding == "HEX":
            raw = bytes.fromhex(data)
        elif encoding in ("A", ""):
            raw = data.encode("utf-8")
        else:
            raise V2Error(f"ED-4 encoding {ed[3]} is not known (Base64, Hex or A).", code="103", ack="AE",
                          location=where)  # fmt: skip
    except (binascii.Error, ValueError) as exc:
        raise V2Error(f"OBX-5's document is not valid {ed[3]}.", code="102", ack="AE", location=where) from exc
    attachment: dict[str, Any] = {
        "contentType": f"{kind}/{subtype}",
        "data": base64.b64encode(raw).decode(),
        "size": len(raw),
    }
    if name := obx.get(3, 2) or title:
        attachment["title"] = name
    return attachment
