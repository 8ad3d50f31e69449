"""HL7 v2 batches: ``[FHS] BHS {MSH …} BTS [FTS]`` (HL7 v2 chapter 2, batch protocol).

An interface engine sends a file or batch of messages in one MLLP frame, one HTTP body or one
file. ``batch_split`` gives its messages (each then stored and acknowledged alone); ``batch_ack``
wraps their ACKs in a batch of its own: BHS (sender and receiver swapped, BHS-12 naming the batch
answered), the ACKs, BTS with their count; FHS/FTS around them when the batch came in a file.
"""

import re
import secrets
from dataclasses import dataclass

from django.utils import timezone

BATCH_SEGMENTS = (b"FHS", b"BHS", b"BTS", b"FTS")


@dataclass(frozen=True)
class Batch:
    file_header: str  # FHS as sent ('' when none)
    batch_header: str  # BHS as sent ('' when none)
    messages: list[bytes]


def is_batch(raw: bytes) -> bool:
    """A batch starts with FHS or BHS (a message starts with MSH)."""
    return raw.lstrip(b"\xef\xbb\xbf\x0b \t\r\n")[:3] in (b"FHS", b"BHS")


def batch_split(raw: bytes) -> Batch:
    """The batch's headers and its messages (segments ended by CR), in order."""
    headers = {b"FHS": b"", b"BHS": b""}
    messages: list[bytes] = []
    current: list[bytes] = []
    for line in re.split(rb"\r\n|\r|\n", raw.lstrip(b"\xef\xbb\xbf\x0b")):
        if not line.strip():
            continue
        tag = line[:3]
        if tag in BATCH_SEGMENTS or (tag == b"MSH" and current):
            if current:
                messages.append(b"\r".join(current) + b"\r")
                current = []
            if tag in headers:
                headers[tag] = line
            if tag != b"MSH":
                continue
        current.append(line)
    if current:
        messages.append(b"\r".join(current) + b"\r")
    return Batch(headers[b"FHS"].decode("latin-1"), headers[b"BHS"].decode("latin-1"), messages)


def _header(kind: str, sent: str, count_id: str) -> str:
    """FHS/BHS of the answer to ``sent`` (the incoming FHS/BHS line)."""
    sep = sent[3] if len(sent) > 3 and not sent[3].isalnum() else "|"
    fields = sent.split(sep) if sent else [kind, "^~\\&"]
    fields += [""] * (12 - len(fields))
    encoding = fields[1] or "^~\\&"
    now = timezone.now().strftime("%Y%m%d%H%M%S%z")
    # Sender and receiver swapped; -11 a new control id; -12 the one of the batch answered.
    return sep.join([kind, encoding, fields[4] or "CLINOPS", fields[5], fields[2], fields[3], now,
                     "", "", "", count_id, fields[10]])  # fmt: skip


def batch_ack(batch: Batch, acks: list[str]) -> str:
    """The batch of ``acks`` (each an ACK message, segments ended by CR) answering ``batch``."""
    control = "ACKB" + secrets.token_hex(6).upper()
    sent = batch.batch_header or batch.file_header
    sep = sent[3] if len(sent) > 3 and not sent[3].isalnum() else "|"
    segments = []
    if batch.file_header:
        segments.append(_header("FHS", batch.file_header, control))
    segments.append(_header("BHS", batch.batch_header, control))
    body = "".join(acks).rstrip("\r")
    if body:
        segments.append(body)
    segments.append(f"BTS{sep}{len(acks)}")
    if batch.file_header:
        segments.append(f"FTS{sep}1")
    return "\r".join(segments) + "\r"
