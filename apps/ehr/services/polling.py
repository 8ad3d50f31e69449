"""Polling: pull what changed on the EHR since the last pass into the inbox.

    source_poll          — one pass over a source's resource types (search, or Bulk $export)
    sources_due_for_poll — ids of the active, polling sources whose interval has passed

Search: ``GET [base]/Type?_lastUpdated=gt<cursor>&_sort=_lastUpdated&_count=N`` (no
``_lastUpdated`` on the first pass), following next links; each page goes to the inbox
(``inbox_receive``, channel "poll"), which stores it durably and deduplicates, so reading a
resource twice is harmless and skipping one is not. Hence the cursor (one ``PollCursor`` per
source and type, the largest ``meta.lastUpdated`` seen) moves forward only in the same
transaction that stores the page: a crash re-reads, never skips. Unless the EHR says it sorted
by ``_lastUpdated`` (the self link of the first page) and the pages come oldest first, the
cursor moves only when the whole pass is stored.

Bulk: one ``$export?_type=…&_since=<the oldest cursor of those types>``; the resources go to the
inbox in batches (``collection`` Bundles) and the cursors move to the export's
``transactionTime`` only after the last batch is stored, since NDJSON files are in no order.

Known limit: a server that pages by offset (``_offset``) can shift results under a pass when a
resource already read is updated or deleted meanwhile; the next pass does not see what shifted
past. EHRs that page over a snapshot (most) are not affected.
"""

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from apps.core.errors import ApplicationError

from ..client import FhirClient, FhirClientError, client_for, fhir_instant
from ..models import STORE_MODELS, EhrSource, InboxMessage, PollCursor
from .envelope import parse_instant
from .inbox import inbox_receive

logger = logging.getLogger(__name__)

PAGE_SIZE = 100
BULK_BATCH = 200


@dataclass
class TypePoll:
    """What one pass did for one resource type (counts only: safe to print and log)."""

    resource_type: str
    pages: int = 0  # search pages read (Bulk: batches of this type stored)
    resources: int = 0
    stored: int = 0  # new inbox messages (the rest were duplicates)
    cursor: datetime | None = None
    error: str = ""


@dataclass
class PollResult:
    source_id: int
    correlation_id: str
    bulk: bool
    types: list[TypePoll] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(t.error for t in self.types)

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source_id,
            "correlationId": self.correlation_id,
            "bulk": self.bulk,
            "types": {
                t.resource_type: {
                    "pages": t.pages,
                    "resources": t.resources,
                    "stored": t.stored,
                    "cursor": t.cursor.isoformat() if t.cursor else None,
                    "error": t.error,
                }
                for t in self.types
            },
        }


def source_poll(
    *,
    source_id: int,
    resource_types: list[str] | None = None,
    use_bulk: bool | None = None,
    page_size: int = PAGE_SIZE,
) -> PollResult:
    """One polling pass over a source: changes since each type's cursor go to the inbox
    (processed after commit), and the cursors move forward. A type that fails keeps its cursor
    and records the error on it; the other types go on."""
    source = EhrSource.objects.get(pk=source_id)
    types = list(resource_types or source.poll_resource_types or STORE_MODELS)
    bulk = source.use_bulk_export if use_bulk is None else use_bulk
    result = PollResult(source_id=source.pk, correlation_id=uuid.uuid4().hex, bulk=bulk)
    cursors = {t: _cursor(source, t) for t in types}
    try:
        client = client_for(source)
    except FhirClientError as exc:
        for resource_type, cursor in cursors.items():
            result.types.append(_failed(cursor, TypePoll(resource_type, cursor=cursor.cursor), exc))
        return result
    with client:
        if bulk:
            result.types.extend(_poll_bulk(client, source, cursors, result.correlation_id))
        else:
            for cursor in cursors.values():
                result.types.append(_poll_search(client, source, cursor, result.correlation_id, page_size))
    logger.info(
        "polling: source %s pass %s: %d resource(s), %d new, %d type(s) failed",
        source.pk,
        result.correlation_id,
        sum(t.resources for t in result.types),
        sum(t.stored for t in result.types),
        sum(1 for t in result.types if t.error),
    )
    return result


def _cursor(source: EhrSource, resource_type: str) -> PollCursor:
    cursor, _ = PollCursor.objects.get_or_create(source=source, resource_type=resource_type)
    return cursor


def _poll_search(
    client: FhirClient, source: EhrSource, cursor: PollCursor, correlation_id: str, page_size: int
) -> TypePoll:
    resource_type = cursor.resource_type
    poll = TypePoll(resource_type, cursor=cursor.cursor)
    params = {"_sort": "_lastUpdated", "_count": str(page_size)}
    if cursor.cursor is not None:
        params["_lastUpdated"] = f"gt{fhir_instant(cursor.cursor)}"
    high = cursor.cursor
    previous_page_high: datetime | None = None
    in_order: bool | None = None
    try:
        for page in client.search_pages(resource_type, params):
            entries = [e for e in page.get("entry") or [] if _is_data(e)]
            times = [t for t in (_last_updated(e["resource"]) for e in entries if _is_match(e)) if t]
            if in_order is None:
                in_order = _sorted_by_last_updated(page)
            # Oldest first, as asked, or the cursor may only move once the whole pass is stored.
            if times != sorted(times) or (previous_page_high and times and times[0] < previous_page_high):
                in_order = False
            page_high = max([high, *times], key=_sortable)
            with transaction.atomic():
                if entries:
                    receipt = inbox_receive(
                        source=source,
                        body={**page, "entry": entries},
                        channel=InboxMessage.Channel.POLL,
                        correlation_id=correlation_id,
                        reject_invalid_ids=False,  # one bad id must not stop the pass: a dead letter says why
                    )
                    poll.stored += len(receipt.new_ids)
                if in_order:
                    _advance(cursor, page_high)
            if times:
                previous_page_high = times[-1]
            high = page_high
            poll.pages += 1
            poll.resources += len(entries)
        with transaction.atomic():
            _advance(cursor, high)
            _finish(cursor, error="")
    except (FhirClientError, ApplicationError) as exc:
        return _failed(cursor, poll, exc)
    poll.cursor = cursor.cursor
    return poll


def _poll_bulk(
    client: FhirClient, source: EhrSource, cursors: dict[str, PollCursor], correlation_id: str
) -> list[TypePoll]:
    polls = {t: TypePoll(t, cursor=c.cursor) for t, c in cursors.items()}
    starts = [c.cursor for c in cursors.values()]
    since = None if any(s is None for s in starts) else min(s for s in starts if s is not None)
    highs: dict[str, datetime | None] = {t: c.cursor for t, c in cursors.items()}
    export = client.bulk_export(list(cursors), since)
    try:
        for batch in _batches(export, BULK_BATCH):
            with transaction.atomic():
                receipt = inbox_receive(
                    source=source,
                    body={"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in batch]},
                    channel=InboxMessage.Channel.POLL,
                    correlation_id=correlation_id,
                    reject_invalid_ids=False,  # one bad id must not stop the pass: a dead letter says why
                )
            for line in receipt.messages:
                if line.resource_type in polls and not line.duplicate:
                    polls[line.resource_type].stored += 1
            for resource_type in {str(r.get("resourceType")) for r in batch} & polls.keys():
                polls[resource_type].pages += 1  # batches of this type stored
            for resource in batch:
                poll = polls.get(resource.get("resourceType", ""))
                if poll is None:
                    continue
                poll.resources += 1
                highs[poll.resource_type] = max([highs[poll.resource_type], _last_updated(resource)], key=_sortable)
        with transaction.atomic():
            for resource_type, cursor in cursors.items():
                # transactionTime: everything changed before it was in this export (Bulk Data spec).
                _advance(cursor, max([highs[resource_type], export.transaction_time], key=_sortable))
                _finish(cursor, error="")
                polls[resource_type].cursor = cursor.cursor
    except (FhirClientError, ApplicationError) as exc:
        return [_failed(cursors[t], poll, exc) for t, poll in polls.items()]
    return list(polls.values())


def _batches(items: Iterable[dict], size: int) -> Iterable[list[dict]]:
    batch: list[dict] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _sorted_by_last_updated(page: dict) -> bool:
    """Did the server sort by ``_lastUpdated``, oldest first? A server lists the parameters it
    used in the self link; one that ignored ``_sort`` leaves it out."""
    for link in page.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "self":
            sort = parse_qs(urlsplit(str(link.get("url", ""))).query).get("_sort", [""])[0]
            return sort.split(",")[0].strip() == "_lastUpdated"
    return False


def _is_data(entry: Any) -> bool:
    """A searchset entry that carries a resource (not the server's own OperationOutcome)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
        return False
    return (entry.get("search") or {}).get("mode") != "outcome"


def _is_match(entry: dict) -> bool:
    return (entry.get("search") or {}).get("mode", "match") == "match"


def _last_updated(resource: Any) -> datetime | None:
    meta = resource.get("meta") if isinstance(resource, dict) else None
    return parse_instant(str(meta.get("lastUpdated") or "")) if isinstance(meta, dict) else None


def _sortable(value: datetime | None) -> datetime:
    return value or datetime.min.replace(tzinfo=UTC)


def _advance(cursor: PollCursor, value: datetime | None) -> None:
    """Move the cursor forward (never back: a slower concurrent pass must not undo a faster one)."""
    if value is None:
        return
    PollCursor.objects.filter(Q(cursor__isnull=True) | Q(cursor__lt=value), pk=cursor.pk).update(cursor=value)
    cursor.refresh_from_db(fields=["cursor"])


def _finish(cursor: PollCursor, *, error: str) -> None:
    cursor.last_run_at = timezone.now()
    cursor.last_error = error[:4000]
    cursor.save(update_fields=["last_run_at", "last_error"])


def _failed(cursor: PollCursor, poll: TypePoll, exc: Exception) -> TypePoll:
    poll.error = str(exc) or exc.__class__.__name__
    with transaction.atomic():
        _finish(cursor, error=poll.error)
    cursor.refresh_from_db(fields=["cursor"])
    poll.cursor = cursor.cursor
    logger.warning("polling: source %s %s failed: %s", cursor.source_id, cursor.resource_type, poll.error)
    return poll


def sources_due_for_poll(*, now: datetime | None = None) -> list[int]:
    """Active sources with polling on whose last pass is at least their interval ago."""
    now = now or timezone.now()
    due = []
    sources = EhrSource.objects.filter(is_active=True, poll_enabled=True).annotate(
        last_run=Max("poll_cursors__last_run_at")
    )
    for source in sources.order_by("id"):
        if source.last_run is None or source.last_run <= now - timedelta(seconds=source.poll_interval_seconds):
            due.append(source.pk)
    return due
