"""ACK messages: original mode (MSA-1 AA/AE/AR) and enhanced mode's accept ACK (CA/CE/CR).

An ERR segment says what was wrong: HL7 table 0357 code and text, where (segment^sequence^field)
and a sentence for people. ERR-1 (v2.3/2.4) and ERR-2..8 (v2.5+) are both filled, so receivers
of either generation find it. The ACK uses the incoming message's separators and version.
"""

import secrets
from dataclasses import dataclass

from django.utils import timezone

from .message import Header

ERROR_TEXT = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "203": "Unsupported version id",
    "205": "Duplicate key identifier",
    "207": "Application internal error",
}
DEFAULT_HEADER = Header("|", "^~\\&", "", "", "", "", "", "", "", "", "", "P", "2.5.1", "", "", "")


@dataclass(frozen=True)
class AckProblem:
    code: str  # table 0357
    location: str  # SEG^seq^field, '' when unknown
    text: str


def _clean(value: str, header: Header) -> str:
    """Text safe inside one component: separators and line breaks replaced."""
    for char in header.field_sep + header.encoding_chars + "\r\n":
        value = value.replace(char, " ")
    return value.strip()[:250]


def ack_build(
    header: Header | None, ack_code: str, problem: AckProblem | None = None, *, ask_accept: bool = False
) -> str:
    """The ACK (ER7 text, segments ended by CR) for a message with ``header`` (None: unreadable).

    ``ask_accept``: an enhanced-mode application ACK, itself a message the sender commits to
    (MSH-15 AL) and answers with no application ACK of its own (MSH-16 NE)."""
    h = header or DEFAULT_HEADER
    comp, field, sub = h.encoding_chars[0], h.field_sep, h.encoding_chars[3:4] or "&"
    now = timezone.now().strftime("%Y%m%d%H%M%S%z")
    event = h.event if header else ""
    msh = field.join(
        [
            "MSH",
            h.encoding_chars,
            _clean(h.receiving_app or "CLINOPS", h),
            _clean(h.receiving_facility, h),
            _clean(h.sending_app, h),
            _clean(h.sending_facility, h),
            now,
            "",
            comp.join(["ACK", event, "ACK"]) if event else "ACK",
            "ACK" + secrets.token_hex(8).upper(),
            h.processing_id or "P",
            h.version if header and h.version else "2.5.1",
        ]
    )
    if ask_accept:
        msh += field * 3 + "AL" + field + "NE"
    if header and header.charset:
        msh += field * (2 if ask_accept else 6) + _clean(header.charset, h)
    text = _clean(problem.text, h) if problem else ""
    segments = [msh, field.join(["MSA", ack_code, _clean(h.control_id, h), text])]
    if problem:
        name = ERROR_TEXT.get(problem.code, "Error")
        loc = [_clean(p, h) for p in problem.location.split("^")] if problem.location else []
        loc += [""] * (3 - len(loc))
        err1 = comp.join([*loc[:3], sub.join([problem.code, name, "HL70357"])])
        severity = "E"
        segments.append(
            field.join(
                [
                    "ERR",
                    err1,
                    comp.join(loc[:3]) if problem.location else "",
                    comp.join([problem.code, name, "HL70357"]),
                    severity,
                    "",
                    "",
                    "",
                    text,
                ]
            )
        )
    return "\r".join(segments) + "\r"
