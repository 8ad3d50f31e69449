"""Bulk files into the inbox and the store: NDJSON (also gzipped) and Bundle/resource JSON.

Streams: NDJSON is read a line at a time and handled in batches, so memory stays flat
however large the files; a JSON file is one document (a Bundle or a resource) read whole.
The messages are stored in the inbox like any other (durable, deduplicated, replayable)
and processed in this process, batch by batch.
"""

import gzip
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

from apps.core.json_input import JsonInputError, json_loads

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


def _open(path: Path) -> IO[bytes]:
    return cast(IO[bytes], gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb"))


def _fail(report: ImportReport, where: str, problem: str) -> None:
    report.errors.append(f"{where}: {problem}")
    report.counts["(unreadable)"]["failed"] += 1


def _entries(path: Path, report: ImportReport) -> Iterator[tuple[Entry, str]]:
    """The file's entries, each with where it came from (``file:line``). What cannot be read
    fails alone and is reported: a line that is not UTF-8 or not JSON, or a file cut short (a
    truncated .gz keeps the lines before the cut)."""
    name = path.name.removesuffix(".gz")
    number = 0
    try:
        with _open(path) as handle:
            if name.endswith(".ndjson"):
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        where = f"{path}:{number}"
                        entries = _split(line, where, report, first=number == 1, one_line=True)
                        yield from ((entry, where) for entry in entries)
            else:
                where = str(path)
                entries = _split(handle.read(), where, report, first=True, one_line=False)
                yield from ((entry, where) for entry in entries)
    except (EOFError, OSError, zlib.error) as exc:
        # gzip: "Compressed file ended before the end-of-stream marker was reached" (EOFError),
        # BadGzipFile (an OSError) or a zlib error for corrupt data; or the file cannot be read.
        after = f" after line {number}" if number else ""
        _fail(report, str(path), f"the file could not be read to the end{after} ({exc}); what came before is imported")


def _split(data: bytes, where: str, report: ImportReport, *, first: bool, one_line: bool) -> list[Entry]:
    if first:
        data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return split(json_loads(data))
    except JsonInputError as exc:
        problem = exc.message[:1].lower() + exc.message[1:]
        if one_line:  # the file's line is in ``where``; within an NDJSON line only the column says more
            problem = problem.replace(" at line 1, column ", " at column ")
    except EnvelopeError as exc:
        problem = exc.message
    _fail(report, where, problem)
    return []


def bulk_import(
    *, source: EhrSource, paths: list[Path], progress: Callable[[ImportReport], None] | None = None
) -> ImportReport:
    """Import every file under ``paths``; a bad line or resource fails alone and is reported."""
    for path in paths:  # before anything is imported, not half-way through
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
    report = ImportReport(correlation_id=f"import-{uuid.uuid4().hex[:12]}")
    batch: list[tuple[Entry, str]] = []
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


def _flush(source: EhrSource, batch: list[tuple[Entry, str]], report: ImportReport) -> None:
    receipt = inbox_receive_entries(
        source=source,
        entries=[entry for entry, _ in batch],
        channel=InboxMessage.Channel.BULK,
        correlation_id=report.correlation_id,
    )
    origin: dict[tuple[str, str], str] = {}
    for entry, where in batch:
        origin.setdefault((entry.resource_type, entry.resource_id), where)
    processed = {m.pk: m for m in inbox_process(message_ids=receipt.new_ids)}
    # Stored but not processed: refused on arrival (an invalid id is a dead letter at once).
    refused = dict(
        InboxMessage.objects.filter(pk__in=set(receipt.new_ids) - processed.keys()).values_list("pk", "last_error")
    )
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
            error = message.last_error if message is not None else refused.get(line.id, "not processed")
            where = origin.get((line.resource_type, line.resource_id), "")
            reference = f"{line.resource_type}/{line.resource_id[:64]}"
            report.errors.append(f"{where}: {reference} (inbox {line.id}): {error[:300]}")
        else:
            counts["updated" if message.outcome == "deleted" else message.outcome] += 1
