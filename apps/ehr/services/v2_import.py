"""HL7 v2 files into the inbox (``ehr_import``): one message per MLLP frame, or per block of
segments separated by blank lines; a batch (FHS/BHS … BTS/FTS) gives each of its messages. Each
message goes through ``hl7_receive`` as if it had arrived over MLLP (stored, deduplicated,
answered) and its FHIR is processed in this process."""

import gzip
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..models import EhrSource, Hl7Message, InboxMessage
from ..v2.batch import batch_split, is_batch
from ..v2.mllp import split_file
from .inbox import inbox_process
from .v2_inbox import hl7_receive

V2_SUFFIXES = (".hl7", ".er7", ".mllp", ".hl7.gz", ".er7.gz")


@dataclass
class V2ImportReport:
    counts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # type → AA/AE/AR/duplicate
    resources: Counter = field(default_factory=Counter)  # FHIR outcome → count
    errors: list[str] = field(default_factory=list)  # file#n: what is wrong (no patient data)
    messages: int = 0
    failed_resends: int = 0  # resends of messages answered AE/AR: still failures

    @property
    def failed(self) -> int:
        return sum(c["AE"] + c["AR"] for c in self.counts.values()) + self.resources["failed"] + self.failed_resends


def _read(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()


def is_v2_file(path: Path) -> bool:
    """A v2 file by its name, or by its first bytes (an MLLP start block or an MSH segment)."""
    if path.name.lower().endswith(V2_SUFFIXES):
        return True
    if path.name.lower().endswith((".json", ".ndjson", ".json.gz", ".ndjson.gz")):
        return False
    with path.open("rb") as handle:
        head = handle.read(16).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith((b"\x0b", b"MSH"))


def v2_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(V2_SUFFIXES))
        elif path.is_file() and is_v2_file(path):
            yield path


def v2_import(
    *, source: EhrSource, paths: list[Path], progress: Callable[[V2ImportReport], None] | None = None
) -> V2ImportReport:
    """Receive every message of the v2 files under ``paths``; a bad one is answered and reported alone."""
    report = V2ImportReport()
    for path in v2_files(paths):
        messages = (
            m
            for chunk in split_file(_read(path))
            for m in (batch_split(chunk).messages if is_batch(chunk) else [chunk])
        )
        for number, raw in enumerate(messages, start=1):
            receipt = hl7_receive(source=source, raw=raw, channel=Hl7Message.Channel.FILE)
            report.messages += 1
            row = Hl7Message.objects.filter(pk=receipt.message_id).first() if receipt.message_id else None
            kind = (row.message_type if row else "") or "(unreadable)"
            app_code = (row.app_ack_code or row.ack_code) if row else receipt.ack_code
            code = app_code.replace("C", "A")  # enhanced mode's CA/CR count as AA/AR
            report.counts[kind]["duplicate" if receipt.duplicate else code] += 1
            report.failed_resends += receipt.duplicate and code != "AA"
            if row and row.error and not receipt.duplicate:
                report.errors.append(f"{path.name}#{number} ({row.control_id or 'no control id'}): {row.error}")
            # Processed here unless the task queue already did (in-process Celery, embedded).
            inbox_process(message_ids=list(receipt.inbox_ids))
            made = InboxMessage.objects.filter(pk__in=receipt.inbox_ids).values_list("status", "outcome")
            for status, outcome in made:
                report.resources[outcome if status == InboxMessage.Status.PROCESSED else "failed"] += 1
            if progress:
                progress(report)
    return report
