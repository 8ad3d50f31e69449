"""The project's HL7 v2 corpus (fixtures/hl7v2): one message of every type clinops converts, with
the FHIR it must become (``<name>.fhir.json``), and malformed messages with the ACK they must get."""

import json
from pathlib import Path

from apps.ehr.models import EhrSource

CORPUS = Path(__file__).parent / "fixtures" / "hl7v2"
MESSAGES = sorted(p.stem for p in CORPUS.glob("*.hl7"))
# The source's v2 names (assigning authorities, coding systems), as the expected FHIR was written with.
SYSTEMS = {
    "HOSP": "urn:oid:2.16.840.1.113883.3.9999.1",
    "SSA": "http://hl7.org/fhir/sid/us-ssn",
    "L": "http://hosp.example.org/fhir/CodeSystem/local",  # the EHR's local codes (CWE-3 "L")
}
TIME_ZONE = "America/Chicago"

# name → (MSA-1, ERR code from HL7 table 0357, where)
MALFORMED = {
    "no_msh": ("AR", "101", "MSH"),
    "bad_encoding_chars": ("AR", "102", "MSH^1^2"),
    "truncated": ("AR", "101", "MSH^1^10"),
    "no_control_id": ("AR", "101", "MSH^1^10"),
    "unknown_event": ("AR", "201", "MSH^1^9^2"),
    "unknown_type": ("AR", "200", "MSH^1^9^1"),
    "old_version": ("AR", "203", "MSH^1^12"),
    "unknown_charset": ("AR", "102", "MSH^1^18"),
    "wrong_charset": ("AR", "102", "MSH^1^18"),
    "bad_segment": ("AR", "100", "pid^2"),
    "no_patient_id": ("AE", "101", "PID^1^3"),
    "bad_birth_date": ("AE", "102", "PID^1^7"),
    "obx_before_obr": ("AE", "100", "OBX"),
    "not_a_number": ("AE", "102", "OBX^1^5"),
    "siu_without_time": ("AE", "101", "AIS^1^4"),
}


def raw(name: str, *, folder: Path = CORPUS) -> bytes:
    """A corpus message as a sender puts it on the wire: segments ended by CR."""
    data = (folder / f"{name}.hl7").read_bytes()
    return data.replace(b"\r\n", b"\r").replace(b"\n", b"\r")


def malformed(name: str) -> bytes:
    return raw(name, folder=CORPUS / "malformed")


def expected(name: str) -> list[dict]:
    return json.loads((CORPUS / f"{name}.fhir.json").read_text(encoding="utf-8"))


def configure(source: EhrSource) -> EhrSource:
    source.v2_systems = SYSTEMS
    source.save(update_fields=["v2_systems"])
    return source


def segments(ack: str) -> dict[str, list[str]]:
    """An ACK's segments by name: {'MSA': [...fields], 'ERR': [...]} (field n at index n)."""
    out = {}
    for line in ack.strip("\r").split("\r"):
        fields = line.split("|")
        out[fields[0]] = fields
    return out
