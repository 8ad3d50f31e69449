"""Bulk files into the inbox and the store: NDJSON (also gzipped) and Bundle/resource JSON.

Streams: NDJSON is read a line at a time and handled in batches, so memory stays flat
however large the files; a JSON file is one document (a Bundle or a resource) read whole.
The messages are stored in the inbox like any other (durable, deduplicated, replayable)
and processed in this process, batch by batch.
"""

import gzip
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..models import EhrSource, InboxMessage
from .envelope import Entry, EnvelopeError, split
from .inbox import inbox_process, inbox_receive_entries

BATCH = 500
SUFFIXES = (".ndjson", ".ndjson.gz", ".json", ".json.gz")


@dataclass
class ImportReport:
    correlation_id: str
    counts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    errors: list[str] = field(default_factory=list)  # file:line: what is wrong (no payload)
    resources: int = 0

    @property
    def failed(self) -> int:
        return sum(c["failed"] for c in self.counts.values())


def files_in(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")


def _open(path: Path):
    return gzip.open(path, "rt", encoding="utf-8-sig") if path.name.endswith(".gz") else path.open(encoding="utf-8-sig")


def _entries(path: Path, report: ImportReport) -> Iterator[Entry]:
    name = path.name.removesuffix(".gz")
    with _open(path) as handle:
        if name.endswith(".ndjson"):
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield from _split_text(line, f"{path}:{number}", report)
        else:
            yield from _split_text(handle.read(), str(path), report)


def _split_text(text: str, where: str, report: ImportReport) -> list[Entry]:
    try:
        return split(json.loads(text))
    except json.JSONDecodeError as exc:
        problem = f"malformed JSON at column {exc.colno}: {exc.msg}"
    except EnvelopeError as exc:
        problem = exc.message
    report.errors.append(f"{where}: {problem}")
    report.counts["(unreadable)"]["failed"] += 1
    return []


def bulk_import(
    *, source: EhrSource, paths: list[Path], progress: Callable[[ImportReport], None] | None = None
) -> ImportReport:
    """Import every file under ``paths``; a bad line or resource fails alone and is reported."""
    report = ImportReport(correlation_id=f"import-{uuid.uuid4().hex[:12]}")
    batch: list[Entry] = []
    for path in files_in(paths):
        for entry in _entries(path, report):
            batch.append(entry)
            if len(batch) >= BATCH:
                _flush(source, batch, report)
                batch = []
                if progress:
                    progress(report)
    if batch:
        _flush(source, batch, report)
    if progress:
        progress(report)
    return report


def _flush(source: EhrSource, batch: list[Entry], report: ImportReport) -> None:
    receipt = inbox_receive_entries(
        source=source, entries=batch, channel=InboxMessage.Channel.BULK, correlation_id=report.correlation_id
    )
    processed = {m.pk: m for m in inbox_process(message_ids=receipt.new_ids)}
    # A resend of something that failed before is still a failure, not "unchanged".
    earlier_failures = set(
        InboxMessage.objects.filter(
            pk__in=[line.id for line in receipt.messages if line.duplicate],
            status__in=[InboxMessage.Status.FAILED, InboxMessage.Status.DEAD],
        ).values_list("pk", flat=True)
    )
    for line in receipt.messages:
        report.resources += 1
        counts = report.counts[line.resource_type]
        message = processed.get(line.id)
        if line.duplicate:
            counts["failed" if line.id in earlier_failures else "unchanged"] += 1
        elif message is None or message.status != InboxMessage.Status.PROCESSED:
            counts["failed"] += 1
            if message is not None:
                report.errors.append(
                    f"{line.resource_type}/{line.resource_id} (inbox {line.id}): {message.last_error[:300]}"
                )
        else:
            counts["updated" if message.outcome == "deleted" else message.outcome] += 1
