"""A v2 message laid out for people: one row per segment, its fields numbered and named."""

import re
from dataclasses import dataclass

# Names of the fields the console shows by name (others are shown by number only).
FIELD_NAMES: dict[str, dict[int, str]] = {
    "MSH": {3: "Sending application", 4: "Sending facility", 5: "Receiving application", 6: "Receiving facility",
            7: "Sent at", 9: "Message type", 10: "Control id", 11: "Processing id", 12: "Version",
            15: "Accept ACK type", 16: "Application ACK type", 18: "Character set"},
    "MSA": {1: "Acknowledgment code", 2: "Control id", 3: "Text"},
    "ERR": {1: "Error (v2.3/2.4)", 2: "Location", 3: "Error code", 4: "Severity", 8: "Message"},
    "EVN": {1: "Event", 2: "Recorded at"},
    "PID": {3: "Patient identifiers", 5: "Name", 7: "Birth date", 8: "Sex", 11: "Address", 13: "Home phone",
            14: "Work phone", 15: "Language", 16: "Marital status", 29: "Died at", 30: "Died"},
    "MRG": {1: "Prior patient identifiers"},
    "PV1": {2: "Patient class", 3: "Location", 7: "Attending doctor", 10: "Service", 17: "Admitting doctor",
            19: "Visit number", 44: "Admitted at", 45: "Discharged at"},
    "SCH": {1: "Placer appointment id", 2: "Filler appointment id", 6: "Event reason", 7: "Appointment reason",
            8: "Appointment type", 11: "Timing", 25: "Filler status"},
    "AIS": {3: "Service", 4: "Start", 7: "Duration"},
    "AIL": {3: "Location", 6: "Start"},
    "AIP": {3: "Personnel", 6: "Start"},
    "ORC": {1: "Order control", 2: "Placer order number", 3: "Filler order number", 9: "Transaction at",
            12: "Ordering provider"},
    "OBR": {2: "Placer order number", 3: "Filler order number", 4: "Service", 5: "Priority", 7: "Observed at",
            16: "Ordering provider", 22: "Reported at", 25: "Result status", 31: "Reason"},
    "OBX": {2: "Value type", 3: "Observation", 5: "Value", 6: "Units", 7: "Reference range", 8: "Abnormal flags",
            11: "Result status", 14: "Observed at"},
    "NTE": {3: "Comment"},
    "TXA": {2: "Document type", 4: "Activity at", 5: "Author", 12: "Document number", 17: "Completion status",
            19: "Availability"},
}  # fmt: skip


@dataclass(frozen=True)
class ReadableField:
    label: str  # PID-3
    name: str  # Patient identifiers ('' when not named here)
    value: str


@dataclass(frozen=True)
class ReadableSegment:
    name: str
    fields: list[ReadableField]
    custom: bool  # a Z-segment: kept, not converted


def readable(text: str) -> list[ReadableSegment]:
    """Segments of ER7 ``text`` with their non-empty fields (MSH counted as the standard does)."""
    out = []
    lines = [line for line in re.split(r"\r\n|\r|\n", text) if line.strip()]
    field_sep = text[3] if text.startswith("MSH") and len(text) > 3 else "|"
    for line in lines:
        name = line[:3]
        parts = line.split(field_sep)
        numbered = [(1, field_sep), *enumerate(parts[1:], start=2)] if name == "MSH" else enumerate(parts[1:], start=1)
        names = FIELD_NAMES.get(name, {})
        fields = [ReadableField(f"{name}-{n}", names.get(n, ""), value) for n, value in numbered if value]
        out.append(ReadableSegment(name, fields, name.startswith("Z")))
    return out
