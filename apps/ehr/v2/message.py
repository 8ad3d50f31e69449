"""One HL7 v2 message (ER7, ``|^~\\&``) read tolerantly: the header first, from the bytes, then
the whole message decoded in the character set MSH-18 names and parsed by python-hl7.

Tolerant of what real interface engines send: any version 2.3–2.8.2, Z-segments (kept, not
read), segments ended by CR, LF or CRLF, trailing empty fields left off, repetitions and escape
sequences (``\\F\\``, ``\\S\\``, ``\\T\\``, ``\\R\\``, ``\\E\\``, ``\\Xhh\\``). What cannot be read
raises ``V2Error`` with the HL7 table 0357 code and the place that is wrong, which becomes the
ACK's ERR segment.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import hl7
from hl7.util import unescape

# HL7 table 0357 (message error condition codes) used here.
SEGMENT_SEQUENCE = "100"
REQUIRED_MISSING = "101"
DATA_TYPE = "102"
UNSUPPORTED_TYPE = "200"
UNSUPPORTED_EVENT = "201"
UNSUPPORTED_VERSION = "203"
DUPLICATE_KEY = "205"
INTERNAL = "207"

# MSH-18 (HL7 table 0211) → Python codec. An empty MSH-18 means ASCII in the standard; UTF-8
# is read instead (a superset), and bytes that are not UTF-8 are then read as 8859/1.
CHARSETS = {
    "ASCII": "ascii",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",  # not in table 0211, but sent by many engines
    "UNICODE": "utf-8",
    **{f"8859/{n}": f"iso8859-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 15)},
}
VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2")
SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")
SUB = "\x1f"  # how components() shows a sub-component separator (an escaped "&" stays "&")
MAX_SEGMENTS = 5000
MAX_FIELD_NUMBER = 300


class V2Error(Exception):
    """The message cannot be taken as it is: ``ack`` is AR (not read at all) or AE (read, but
    an application error), ``code`` is from HL7 table 0357, ``location`` is ``SEG^seq^field``."""

    def __init__(self, message: str, *, code: str, ack: str = "AR", location: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.ack = ack
        self.location = location


@dataclass(frozen=True)
class Header:
    field_sep: str
    encoding_chars: str
    sending_app: str
    sending_facility: str
    receiving_app: str
    receiving_facility: str
    sent_at: str  # MSH-7 as sent
    message_code: str  # MSH-9.1, e.g. ADT
    event: str  # MSH-9.2, e.g. A01
    structure: str  # MSH-9.3
    control_id: str  # MSH-10
    processing_id: str  # MSH-11
    version: str  # MSH-12
    accept_ack: str  # MSH-15 (enhanced mode when this or MSH-16 is sent)
    app_ack: str  # MSH-16
    charset: str  # MSH-18 as sent

    @property
    def message_type(self) -> str:
        return f"{self.message_code}^{self.event}" if self.event else self.message_code

    @property
    def enhanced(self) -> bool:
        return bool(self.accept_ack or self.app_ack)

    @property
    def codec(self) -> str:
        return CHARSETS.get(self.charset.upper(), "")


def _split_segments(text: str) -> list[str]:
    return [s for s in re.split(r"\r\n|\r|\n", text) if s.strip()]


def read_header(raw: bytes) -> Header:
    """MSH of ``raw`` (read as 8859/1, which never fails: the MSH fields used are ASCII)."""
    text = raw.decode("latin-1").lstrip("\ufeff\x0b \t\r\n")
    if text.startswith("ï»¿"):  # a UTF-8 byte-order mark read as 8859/1
        text = text[3:]
    if not text.startswith("MSH"):
        raise V2Error("The message does not start with an MSH segment.", code=REQUIRED_MISSING, location="MSH")
    if len(text) < 8:
        raise V2Error("The MSH segment is truncated.", code=REQUIRED_MISSING, location="MSH^1^2")
    field_sep = text[3]
    if field_sep.isalnum() or field_sep in "\r\n ":
        raise V2Error("MSH-1, the field separator, is not valid.", code=DATA_TYPE, location="MSH^1^1")
    msh = re.split(r"\r|\n", text, maxsplit=1)[0]
    fields = msh.split(field_sep)
    encoding = fields[1] if len(fields) > 1 else ""
    if len(encoding) < 3 or len(set(encoding + field_sep)) != len(encoding) + 1 or any(c.isalnum() for c in encoding):
        raise V2Error(
            "MSH-2, the encoding characters, are not valid (expected four distinct symbols such as ^~\\&).",
            code=DATA_TYPE,
            location="MSH^1^2",
        )

    # fields[0] is "MSH", fields[1] is MSH-2: MSH-n is fields[n - 1].
    def field(n: int) -> str:
        return fields[n - 1] if len(fields) >= n else ""

    component, repetition = encoding[0], encoding[1]

    def first_rep(value: str) -> str:
        return value.split(repetition)[0]

    msg_type = first_rep(field(9)).split(component)
    header = Header(
        field_sep=field_sep,
        encoding_chars=encoding,
        sending_app=first_rep(field(3)).split(component)[0][:180],
        sending_facility=first_rep(field(4)).split(component)[0][:180],
        receiving_app=first_rep(field(5)).split(component)[0][:180],
        receiving_facility=first_rep(field(6)).split(component)[0][:180],
        sent_at=field(7).split(component)[0][:40],
        message_code=msg_type[0].strip()[:3].upper() if msg_type else "",
        event=msg_type[1].strip()[:3].upper() if len(msg_type) > 1 else "",
        structure=msg_type[2].strip()[:7].upper() if len(msg_type) > 2 else "",
        control_id=field(10).strip()[:199],
        processing_id=field(11).split(component)[0].strip()[:3],
        version=field(12).split(component)[0].strip()[:10],
        accept_ack=field(15).strip()[:2].upper(),
        app_ack=field(16).strip()[:2].upper(),
        charset=first_rep(field(18)).strip()[:20],
    )
    return header


def check_header(header: Header) -> None:
    """The header rules every message must meet before it is stored (AR otherwise)."""
    if not header.control_id:
        raise V2Error("MSH-10, the message control id, is empty.", code=REQUIRED_MISSING, location="MSH^1^10")
    if not header.message_code:
        raise V2Error("MSH-9, the message type, is empty.", code=REQUIRED_MISSING, location="MSH^1^9")
    if header.version not in VERSIONS:
        raise V2Error(
            f"Version {header.version or '(none)'} in MSH-12 is not supported (2.3 to 2.8.2 are).",
            code=UNSUPPORTED_VERSION,
            location="MSH^1^12",
        )
    if header.charset and not header.codec:
        raise V2Error(
            f"Character set {header.charset} in MSH-18 is not supported (ASCII, 8859/1–15 and UTF-8 are).",
            code=DATA_TYPE,
            location="MSH^1^18",
        )


def decode(raw: bytes, header: Header) -> tuple[str, str]:
    """The text of ``raw`` in the character set MSH-18 names, and the codec used."""
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    if not header.charset:
        try:
            return raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            return raw.decode("iso8859-1"), "iso8859-1"
    codec = header.codec
    try:
        return raw.decode(codec), codec
    except UnicodeDecodeError as exc:
        raise V2Error(
            f"The message is not valid {header.charset} (MSH-18) at byte {exc.start}.",
            code=DATA_TYPE,
            location="MSH^1^18",
        ) from exc


class Segment:
    """One segment; fields numbered as in the standard (MSH-3 is ``get(3)`` on MSH too)."""

    def __init__(self, message: "V2Message", raw: str) -> None:
        self._message = message
        self.raw = raw
        seps = message.header
        self.name = raw[:3]
        parts = raw.split(seps.field_sep)
        # MSH-1 is the separator itself, so MSH's fields sit one place further than others'.
        self._fields = [self.name, seps.field_sep, *parts[1:]] if self.name == "MSH" else parts

    def field(self, number: int) -> str:
        return self._fields[number] if 0 < number < len(self._fields) else ""

    def reps(self, number: int) -> list[list[str]]:
        """The repetitions of a field, each as its components, unescaped; sub-components are
        joined by ``SUB``, so that an escaped separator (``\\T\\`` is "&") stays text."""
        value = self.field(number)
        if not value:
            return []
        chars = self._message.header.encoding_chars
        sub = chars[3:4] or "&"
        unescape = self._message.unescape
        out = []
        for rep in value.split(chars[1]):
            if rep:
                out.append([SUB.join(unescape(part) for part in c.split(sub)) for c in rep.split(chars[0])])
        return out

    def components(self, number: int, rep: int = 1) -> list[str]:
        reps = self.reps(number)
        return reps[rep - 1] if len(reps) >= rep else []

    def get(self, number: int, component: int = 1, rep: int = 1) -> str:
        """A component's text (its first sub-component), '' when absent."""
        comps = self.components(number, rep)
        if len(comps) < component:
            return ""
        return comps[component - 1].split(SUB)[0].strip()

    def text(self, number: int) -> str:
        """A whole text field, repetitions joined by line breaks (FT/TX fields)."""
        chars = self._message.header.encoding_chars
        return "\n".join(chars[0].join(r).replace(SUB, chars[3:4] or "&") for r in self.reps(number))


class V2Message:
    def __init__(self, header: Header, text: str, codec: str = "utf-8") -> None:
        self.header = header
        self.text = text
        self.codec = codec
        esc = re.escape(header.encoding_chars[2:3] or "\\")
        self._hex = re.compile(f"{esc}X([0-9A-Fa-f]{{2,}}){esc}")
        lines = _split_segments(text)
        if len(lines) > MAX_SEGMENTS:
            raise V2Error(f"The message has more than {MAX_SEGMENTS} segments.", code=SEGMENT_SEQUENCE)
        for number, line in enumerate(lines, start=1):
            if not SEGMENT_ID.match(line[:3]) or (len(line) > 3 and line[3] != header.field_sep):
                raise V2Error(
                    f"Segment {number} does not start with a segment id (three letters or digits, then "
                    f"{header.field_sep}).",
                    code=SEGMENT_SEQUENCE,
                    location=f"{line[:3]}^{number}",
                )
            if line.count(header.field_sep) > MAX_FIELD_NUMBER:
                raise V2Error(f"Segment {number} has more than {MAX_FIELD_NUMBER} fields.", code=DATA_TYPE)
        # python-hl7 checks the structure and knows the escape sequences; its tree is not used
        # for reading fields (a field with and without components are different shapes there).
        try:
            self._parsed = hl7.parse("\r".join(lines))
        except Exception as exc:  # the library raises several types on bad input
            raise V2Error(f"The message cannot be parsed: {exc}.", code=SEGMENT_SEQUENCE) from exc
        self.segments = [Segment(self, line) for line in lines]

    def unescape(self, value: str) -> str:
        if self.header.encoding_chars[2:3] not in value:
            return value
        # \Xhh..\ is bytes in the message's character set (python-hl7 would read each byte as a
        # character on its own, which breaks UTF-8).
        value = self._hex.sub(lambda m: self._bytes(m.group(1)), value)
        return unescape(self._parsed, value) if self.header.encoding_chars[2:3] in value else value

    def _bytes(self, digits: str) -> str:
        try:
            return bytes.fromhex(digits[: len(digits) // 2 * 2]).decode(self.codec, errors="replace")
        except ValueError:
            return ""

    def all(self, name: str) -> list[Segment]:
        return [s for s in self.segments if s.name == name]

    def first(self, name: str) -> Segment | None:
        return next((s for s in self.segments if s.name == name), None)

    def segment_text(self) -> list[str]:
        return [s.raw for s in self.segments]


def parse(raw: bytes) -> tuple[V2Message, str]:
    """Read, check and parse ``raw``; returns the message and the codec it was read with."""
    header = read_header(raw)
    check_header(header)
    text, codec = decode(raw, header)
    return V2Message(header, text, codec), codec


def v2_datetime(value: str, *, default_tz: Any = UTC) -> str:
    """A v2 DTM (``YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]``) as a FHIR dateTime or date ('' if invalid).

    Without a time zone the moment is read in ``default_tz`` (the source's), since FHIR needs one
    on any time with hours."""
    match = re.fullmatch(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,4})?([+-]\d{4})?", value.strip())
    if not match:
        return ""
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        if hour is None:
            if month and day:
                return datetime(int(year), int(month), int(day)).date().isoformat()  # noqa: DTZ001 - a date
            return f"{year}-{month}" if month else year
        if zone:
            sign = 1 if zone[0] == "+" else -1
            tz: Any = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])))
        else:
            tz = default_tz
        moment = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour),
            int(minute or 0),
            int(second or 0),
            int(float(fraction or 0) * 1_000_000),
            tzinfo=tz,
        )
    except ValueError:
        return ""
    return moment.isoformat()


def v2_date(value: str) -> str:
    """A v2 DT/DTM as a FHIR date (the day only; '' if invalid)."""
    found = v2_datetime(value[:8]) if len(value) >= 8 else v2_datetime(value)
    return found[:10]
