"""v2 data types to FHIR R4 data types, after the HL7 v2-to-FHIR data type maps
(CX → Identifier, XPN → HumanName, XAD → Address, XTN → ContactPoint, CWE/CE → CodeableConcept,
XCN → a reference with a display, EI → Identifier, DTM → dateTime)."""

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from ..message import SUB, Segment, V2Error, v2_datetime

V2 = "http://terminology.hl7.org/CodeSystem/v2-"
# CWE-3 coding system names (HL7 table 0396) → FHIR system URIs.
CODE_SYSTEMS = {
    "LN": "http://loinc.org",
    "LOINC": "http://loinc.org",
    "SCT": "http://snomed.info/sct",
    "SNM": "http://snomed.info/sct",
    "SNOMED": "http://snomed.info/sct",
    "UCUM": "http://unitsofmeasure.org",
    "I10": "http://hl7.org/fhir/sid/icd-10",
    "I10C": "http://hl7.org/fhir/sid/icd-10-cm",
    "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "CPT": "http://www.ama-assn.org/go/cpt",
    "C4": "http://www.ama-assn.org/go/cpt",
    "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm",
}
ID_RE = re.compile(r"[^A-Za-z0-9\-.]")

Resource = dict[str, Any]


@dataclass
class Context:
    """What a conversion needs beyond the message: per-source settings and the store's ids."""

    source_id: int
    tz: tzinfo
    # v2 names → FHIR system URIs: assigning authorities (CX-4) and coding systems (CWE-3).
    systems: dict[str, str] = field(default_factory=dict)
    referral_codes: frozenset[str] = frozenset()
    # (resource type, patient reference, identifiers) → the id of a stored resource that has one
    # of those identifiers, so v2 and FHIR input of one patient land on one record.
    resolve: Callable[[str, str, list[dict[str, Any]]], str | None] = lambda *_: None


def fhir_id(*parts: str) -> str:
    """A FHIR id made of ``parts`` (letters, digits, '-' and '.'; a hash when too long)."""
    text = ID_RE.sub("-", "-".join(p for p in parts if p)).strip("-.") or "x"
    if len(text) > 64:
        text = text[:47] + "-" + hashlib.sha256(text.encode()).hexdigest()[:16]
    return text


def system_of(authority: str, ctx: Context) -> str:
    """A FHIR system for an assigning authority (HD: namespace&universal id&type)."""
    parts = authority.split(SUB)
    namespace = parts[0].strip()
    if namespace in ctx.systems:
        return ctx.systems[namespace]
    universal = parts[1].strip() if len(parts) > 1 else ""
    kind = parts[2].strip().upper() if len(parts) > 2 else ""
    if universal and kind == "ISO":
        return f"urn:oid:{universal}"
    if universal and kind in ("URI", "URL"):
        return universal
    return ""


def identifier(comps: list[str], ctx: Context, *, type_code: str = "") -> dict[str, Any] | None:
    """CX (or EI, whose namespace is component 2) → Identifier."""
    value = comps[0].strip() if comps else ""
    if not value:
        return None
    authority = comps[3] if len(comps) > 3 else ""
    out: dict[str, Any] = {"value": value}
    if system := system_of(authority, ctx):
        out["system"] = system
    if namespace := authority.split(SUB)[0].strip():
        out["assigner"] = {"display": namespace}
    code = (comps[4].strip() if len(comps) > 4 else "") or type_code
    if code:
        out["type"] = {"coding": [{"system": V2 + "0203", "code": code}]}
    return out


def entity_identifier(comps: list[str], ctx: Context, *, type_code: str = "") -> dict[str, Any] | None:
    """EI (entity id ^ namespace id ^ universal id ^ type) → Identifier."""
    value = comps[0].strip() if comps else ""
    if not value:
        return None
    authority = SUB.join(comps[1:4]) if len(comps) > 1 else ""
    out: dict[str, Any] = {"value": value}
    if system := system_of(authority, ctx):
        out["system"] = system
    elif len(comps) > 1 and comps[1].strip():
        out["assigner"] = {"display": comps[1].strip()}
    if type_code:
        out["type"] = {"coding": [{"system": V2 + "0203", "code": type_code}]}
    return out


NAME_USE = {"L": "official", "D": "usual", "M": "maiden", "N": "nickname", "A": "anonymous", "B": "old"}


def human_name(comps: list[str]) -> dict[str, Any] | None:
    """XPN: family ^ given ^ further given ^ suffix ^ prefix ^ degree ^ type."""
    c = [x.split(SUB)[0].strip() for x in comps] + [""] * 7
    given = [g for g in (c[1], *c[2].split(" ")) if g]
    out: dict[str, Any] = {}
    if c[0]:
        out["family"] = c[0]
    if given:
        out["given"] = given
    if c[3]:
        out["suffix"] = [c[3]]
    if c[4]:
        out["prefix"] = [c[4]]
    if not out:
        return None
    if c[6] in NAME_USE:
        out["use"] = NAME_USE[c[6]]
    return out


ADDRESS_USE = {"H": "home", "B": "work", "O": "work", "C": "temp", "BA": "old"}


def address(comps: list[str]) -> dict[str, Any] | None:
    """XAD: street ^ other ^ city ^ state ^ zip ^ country ^ type."""
    c = [x.split(SUB)[0].strip() for x in comps] + [""] * 7
    out: dict[str, Any] = {}
    if lines := [x for x in (c[0], c[1]) if x]:
        out["line"] = lines
    for key, value in (("city", c[2]), ("state", c[3]), ("postalCode", c[4]), ("country", c[5])):
        if value:
            out[key] = value
    if not out:
        return None
    if c[6] in ADDRESS_USE:
        out["use"] = ADDRESS_USE[c[6]]
    return out


TELECOM_USE = {"PRN": "home", "ORN": "home", "WPN": "work", "PRS": "mobile", "EMR": "home", "VHN": "home"}


def contact_point(comps: list[str], default_use: str) -> dict[str, Any] | None:
    """XTN: [old number] ^ use ^ equipment ^ email ^ country ^ area ^ local number."""
    c = [x.strip() for x in comps] + [""] * 7
    if c[3] or c[2] == "Internet":
        if not c[3]:
            return None
        return {"system": "email", "value": c[3], "use": TELECOM_USE.get(c[1], default_use)}
    number = " ".join(x for x in (c[4] and f"+{c[4]}", c[5], c[6]) if x) or c[0]
    if not number:
        return None
    system = "fax" if c[2] == "FX" else "phone"
    use = "mobile" if c[2] == "CP" else TELECOM_USE.get(c[1], default_use)
    return {"system": system, "value": number, "use": use}


def codeable(comps: list[str], ctx: Context | None = None, *, default_system: str = "") -> dict[str, Any] | None:
    """CWE/CE (code ^ text ^ system ^ alt code ^ alt text ^ alt system) → CodeableConcept.

    The coding system's name (CWE-3) becomes a URI: the source's own names first (``v2_systems``:
    a local system such as "L" or "99ZZZ" gets the URI its terminology maps are written for, so a
    local code goes through the governed maps as a FHIR one does), then the well-known ones."""
    c = [x.split(SUB)[0].strip() for x in comps] + [""] * 6
    systems = ctx.systems if ctx else {}
    codings = []
    for code, display, system in ((c[0], c[1], c[2]), (c[3], c[4], c[5])):
        if not code:
            continue
        coding: dict[str, Any] = {"code": code}
        uri = systems.get(system) or (CODE_SYSTEMS.get(system.upper(), "") if system else default_system)
        if not uri and system:
            uri = V2 + system[-4:] if re.fullmatch(r"HL7\d{4}", system.upper()) else ""
        if uri:
            coding["system"] = uri
        if display:
            coding["display"] = display
        codings.append(coding)
    out: dict[str, Any] = {}
    if codings:
        out["coding"] = codings
    if (c[1] and (not codings or not codings[0].get("display"))) or c[1]:
        out["text"] = c[1]
    return out or None


def table_code(table: str, code: str, display: str = "") -> dict[str, Any]:
    coding = {"system": V2 + table, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def person_display(comps: list[str]) -> str:
    """XCN: id ^ family ^ given ^ middle ^ suffix ^ prefix → 'prefix given family'."""
    c = [x.split(SUB)[0].strip() for x in comps] + [""] * 6
    return " ".join(x for x in (c[5], c[2], c[3], c[1], c[4]) if x)


def practitioner_ref(comps: list[str]) -> dict[str, Any] | None:
    c = [x.strip() for x in comps] + [""] * 2
    if not c[0] and not person_display(comps):
        return None
    out: dict[str, Any] = {}
    if c[0]:
        out["reference"] = f"Practitioner/{fhir_id(c[0])}"
    if display := person_display(comps):
        out["display"] = display
    return out


def when(segment: Segment, number: int, ctx: Context, *, required: bool = False) -> str:
    """A DTM field as a FHIR dateTime ('' when empty); a value that is not a date is an AE."""
    raw = segment.get(number)
    if not raw:
        if required:
            raise V2Error(f"{segment.name}-{number} is required.", code="101", ack="AE", location=loc(segment, number))
        return ""
    value = v2_datetime(raw, default_tz=ctx.tz)
    if not value:
        raise V2Error(
            f"{segment.name}-{number} is not a date/time (YYYYMMDD[HHMM[SS]][+ZZZZ]).",
            code="102",
            ack="AE",
            location=loc(segment, number),
        )
    return value


def loc(segment: Segment, number: int) -> str:
    return f"{segment.name}^1^{number}"


def required(segment: Segment | None, name: str, number: int = 0) -> Segment:
    if segment is None:
        raise V2Error(f"The {name} segment is missing.", code="100", ack="AE", location=name)
    return segment


def annotation(nte: Segment, ctx: Context) -> dict[str, Any] | None:
    """NTE → Annotation (v2-to-FHIR NTE map: NTE-3 text, NTE-5 entered by, NTE-6 entered at)."""
    text = nte.text(3).strip()
    if not text:
        return None
    out: dict[str, Any] = {"text": text}
    by = [c.strip() for c in nte.components(5)]
    if len([c for c in by if c]) == 1 and by[0] and " " in by[0]:
        out["authorString"] = by[0]  # a name in the id component ("Front desk"), not an id
    elif author := practitioner_ref(by):
        out["authorReference" if "reference" in author else "authorString"] = (
            author if "reference" in author else author["display"]
        )
    if nte.get(6) and (entered := v2_datetime(nte.get(6), default_tz=ctx.tz)):
        out["time"] = entered
    return out
