"""The inbox: every message from the EHR is stored before it is acknowledged, then applied
to the local store and handed to the workflows, with retries and dead letters.

    inbox_receive  — split a delivery into messages, store them (deduplicated), queue processing after commit
    inbox_process  — apply messages: validate (FHIR R4), upsert (version-guarded), call handlers
    inbox_sweep    — re-queue what was left in ``received`` (broker down at commit) and failures now due

An id-only message (a notification that names a resource without its content) is fetched from
the EHR with no transaction open, the way the outbox sends: the processing transaction leases it
(counts the attempt and pushes ``next_attempt_at`` past the longest the fetch can take) and
commits; the EHR is read; then one short transaction stores what it answered and applies it, only
if the message still carries this lease (``attempts`` and ``next_attempt_at``). A worker that dies
mid-fetch leaves the lease to run out, and the sweeper queues the message again.
"""

import hashlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from itertools import groupby
from operator import attrgetter
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field, Q
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource as FhirModelResource
from pydantic import ValidationError

from ..client import FhirHttpError
from ..handlers import ChangeFailed, ResourceChange, handlers_for
from ..models import EhrSource, InboxEnvelope, InboxMessage, store_model_for, store_rows_of
from ..retry import max_attempts, next_attempt_at
from .envelope import Entry, parse_body, parse_instant, split
from .envelope import reject_invalid_ids as reject_invalid_ids_in
from .inbox_fetch import Fetched, fetch_all, fetch_lease
from .store import StoreResult, micros, resource_upsert, resources_upsert, store_rows, version_seq

logger = logging.getLogger(__name__)
Status = InboxMessage.Status
BATCH = 200
INSERT_BATCH = 500  # rows per INSERT: under SQLite's limit of 32,766 parameters
MAX_FAILURES_KEPT = 50  # a message's failure history: the most recent attempts' causes


class PermanentError(Exception):
    """Processing this message again cannot succeed until something changes: dead-letter it."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ReceiptLine:
    id: int
    resource_type: str
    resource_id: str
    operation: str
    duplicate: bool


@dataclass
class Receipt:
    correlation_id: str
    envelope_id: int | None = None
    messages: list[ReceiptLine] = field(default_factory=list)

    @property
    def new_ids(self) -> list[int]:
        return [line.id for line in self.messages if not line.duplicate]

    def as_json(self) -> dict[str, Any]:
        return {
            "correlationId": self.correlation_id,
            "envelope": self.envelope_id,
            "stored": len(self.new_ids),
            "duplicates": len(self.messages) - len(self.new_ids),
            "messages": [
                {
                    "id": line.id,
                    "resourceType": line.resource_type,
                    "resourceId": line.resource_id,
                    "operation": line.operation,
                    "duplicate": line.duplicate,
                }
                for line in self.messages
            ],
        }


def inbox_receive(
    *,
    source: EhrSource,
    body: bytes | dict[str, Any],
    channel: str,
    content_type: str = "",
    correlation_id: str = "",
    process: bool = True,
    reject_invalid_ids: bool = True,
) -> Receipt:
    """Store a delivery (a resource or Bundle) as inbox messages; queue their processing after commit.

    Raises EnvelopeError when the body is not FHIR, or holds an id that is not a FHIR id
    (unless ``reject_invalid_ids`` is off: polling stores such an entry as a dead letter that
    says why); nothing is stored then. Raw webhook bytes are kept whole in an envelope. A
    message already received (same key) is not stored twice.
    """
    document = parse_body(body) if isinstance(body, bytes) else body
    entries = split(document)
    if reject_invalid_ids:
        reject_invalid_ids_in(entries)
    correlation_id = (correlation_id or uuid.uuid4().hex)[:64]
    with transaction.atomic():
        envelope = None
        if isinstance(body, bytes):
            envelope = InboxEnvelope.objects.create(
                source=source,
                sha256=hashlib.sha256(body).hexdigest(),
                content_type=content_type[:100],
                correlation_id=correlation_id,
                raw=body,
            )
        receipt = _store(source, entries, channel=channel, correlation_id=correlation_id, envelope=envelope)
        if process and receipt.new_ids:
            for start in range(0, len(receipt.new_ids), BATCH):
                chunk = receipt.new_ids[start : start + BATCH]
                transaction.on_commit(partial(_queue, chunk))
    return receipt


def inbox_receive_entries(
    *,
    source: EhrSource,
    entries: Iterable[Entry],
    channel: str,
    correlation_id: str,
    envelope: InboxEnvelope | None = None,
) -> Receipt:
    """Store already-split entries (bulk import, HL7 v2 conversion); the caller processes them."""
    with transaction.atomic():
        return _store(source, list(entries), channel=channel, correlation_id=correlation_id, envelope=envelope)


def _store(
    source: EhrSource, entries: list[Entry], *, channel: str, correlation_id: str, envelope: InboxEnvelope | None
) -> Receipt:
    receipt = Receipt(correlation_id=correlation_id, envelope_id=envelope.pk if envelope else None)
    keyed: dict[str, Entry] = {}
    for entry in entries:
        keyed.setdefault(entry.idempotency_key(source.pk), entry)
    now = timezone.now()
    rows = [_message_row(source, envelope, key, entry, channel, correlation_id, now) for key, entry in keyed.items()]
    inserted: dict[str, int] = {}
    for start in range(0, len(rows), INSERT_BATCH):
        inserted.update(_insert_new(rows[start : start + INSERT_BATCH]))
    ids = dict(InboxMessage.objects.filter(idempotency_key__in=keyed).values_list("idempotency_key", "id"))
    for key, entry in keyed.items():
        receipt.messages.append(
            ReceiptLine(ids[key], entry.resource_type, entry.resource_id, entry.operation, key not in inserted)
        )
    return receipt


def _message_row(
    source: EhrSource,
    envelope: InboxEnvelope | None,
    key: str,
    entry: Entry,
    channel: str,
    correlation_id: str,
    now: datetime,
) -> InboxMessage:
    message = InboxMessage(
        source=source,
        envelope=envelope,
        idempotency_key=key,
        sha256=entry.sha256,
        payload=entry.payload,
        channel=channel,
        operation=entry.operation,
        resource_type=entry.resource_type[:64],
        resource_id=entry.resource_id[:128],  # only an invalid id (a dead letter) is ever longer than 64
        version_id=entry.version_id,
        ehr_last_updated=parse_instant(entry.last_updated),
        correlation_id=correlation_id,
        received_at=now,
    )
    if entry.problem:  # never applied: kept, with the reason, as a dead letter
        message.status, message.error_code, message.last_error = Status.DEAD, "invalid_id", entry.problem
        message.failures = [{"at": now.isoformat(), "attempt": 0, "code": "invalid_id", "error": entry.problem}]
    return message


def _insert_new(messages: list[InboxMessage]) -> dict[str, int]:
    """Insert the messages whose key is new; {key: id} of those this transaction inserted.

    ``INSERT … ON CONFLICT DO NOTHING RETURNING``: a key another transaction inserted first
    (committed, or committing while this one waits on the unique index) is not returned, so
    of two identical deliveries at the same moment exactly one is told it is new. (Reading
    the existing keys first, as this did before, let both be told so: neither saw the other's
    uncommitted row.) PostgreSQL and SQLite 3.35+ both speak this."""
    if not messages:
        return {}
    fields = [f for f in InboxMessage._meta.concrete_fields if not f.primary_key]
    q = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {q(InboxMessage._meta.db_table)} ({', '.join(q(f.column or f.name) for f in fields)}) "  # noqa: S608
        f"VALUES {', '.join([row] * len(messages))} "
        f"ON CONFLICT ({q('idempotency_key')}) DO NOTHING RETURNING {q('idempotency_key')}, {q('id')}"
    )
    params = [f.get_db_prep_save(f.pre_save(m, add=True), connection) for m in messages for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def _queue(ids: list[int]) -> None:
    from ..tasks.inbox import inbox_process_task

    try:
        inbox_process_task.delay(ids)
    except Exception:
        # The broker is down: the rows are committed in ``received``; the sweeper re-queues them.
        logger.warning("inbox: could not queue %d message(s); the sweeper will pick them up", len(ids))


def _due(now: datetime) -> Q:
    """Received or failed, and not waiting: a retry time or a fetch's lease still ahead."""
    not_waiting = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    return Q(status__in=(Status.RECEIVED, Status.FAILED)) & not_waiting


def inbox_process(*, message_ids: list[int]) -> list[InboxMessage]:
    """Apply due messages among ``message_ids``; each fails or succeeds on its own.

    Rows are locked (SKIP LOCKED), so two workers never apply one message; one that is already
    processed, dead, not yet due or being fetched is left alone, which makes a second run a no-op.
    Call it outside a transaction (the task does): id-only messages are fetched from the EHR
    between two short ones.
    """
    with transaction.atomic():
        messages = list(
            # OF self: without it the join locks the source row too, and SKIP LOCKED then skips
            # every message of that source while another worker holds one.
            InboxMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("source")
            .filter(_due(timezone.now()), id__in=message_ids)
            .order_by("id")
        )
        to_fetch = [m for m in messages if m.operation == InboxMessage.Operation.FETCH]
        ready, waiting = version_gate([m for m in messages if m.operation != InboxMessage.Operation.FETCH])
        ready = in_version_order(ready)
        done = _apply_batch(ready)
        for message in ready:
            if message.pk not in done:
                _process_one(message)
        _save_results(ready, RESULT_FIELDS)
        _defer(waiting)
        _lease(to_fetch)
        if ready:
            transaction.on_commit(partial(_queue_followers, [m.pk for m in ready]))
    for message, fetched in fetch_all(to_fetch):  # no transaction open: the EHR is called here
        _store_fetched(message, fetched)
    return messages


RESULT_FIELDS = [
    "status",
    "attempts",
    "next_attempt_at",
    "error_code",
    "last_error",
    "failures",
    "outcome",
    "processed_at",
]
FETCHED_FIELDS = ["payload", "sha256", "operation", "version_id", "ehr_last_updated"]  # set by _take_fetched


def _save_results(messages: list[InboxMessage], names: list[str]) -> None:
    """One ``UPDATE … WHERE id = %s`` per message, sent with executemany (pipelined by psycopg).

    Not ``bulk_update``: its ``CASE WHEN id = … THEN …`` per field over a batch of hundreds of rows
    took more time (in Django and in PostgreSQL) than processing the messages."""
    if not messages:
        return
    fields = [cast(Field, InboxMessage._meta.get_field(name)) for name in names]
    q = connection.ops.quote_name
    sql = (
        f"UPDATE {q(InboxMessage._meta.db_table)} SET {', '.join(f'{q(f.column or f.name)} = %s' for f in fields)} "  # noqa: S608
        f"WHERE {q('id')} = %s"
    )
    rows = [[f.get_db_prep_save(getattr(m, f.attname), connection) for f in fields] + [m.pk] for m in messages]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


WAIT_FOR_OLDER = timedelta(seconds=5)  # a deferred version's next look, if no follower queues it first


def version_gate(messages: list[InboxMessage]) -> tuple[list[InboxMessage], list[InboxMessage]]:
    """Split dequeued messages into (ready, waiting): a version waits while an older version of its
    resource is still to be applied (received or failed, not in this batch); dead letters do not
    hold it back. Versions of one resource are thus applied in version order whatever order they
    are dequeued in, across batches and workers (within a batch, ``in_version_order``). Id-only
    messages (fetches) and versionless ones neither wait nor hold back: a fetch's version is known
    only once fetched, and a bare delete applies to whatever the store holds."""
    ordered = [m for m in messages if _has_version(m)]
    if not ordered:
        return messages, []
    batch_ids = {m.pk for m in messages}
    pending = (
        InboxMessage.objects.filter(
            status__in=(Status.RECEIVED, Status.FAILED),
            resource_type__in={m.resource_type for m in ordered},
            resource_id__in={m.resource_id for m in ordered},
        )
        .exclude(operation=InboxMessage.Operation.FETCH)
        .exclude(version_id="", ehr_last_updated__isnull=True)
        .exclude(pk__in=batch_ids)
        .only("pk", "source_id", "resource_type", "resource_id", "version_id", "ehr_last_updated", "received_at")
    )
    oldest: dict[tuple[int, str, str], tuple[int, int, int]] = {}
    for other in pending:
        key = (other.source_id, other.resource_type, other.resource_id)
        oldest[key] = min(oldest.get(key, _version_key(other)), _version_key(other))
    ready: list[InboxMessage] = []
    waiting: list[InboxMessage] = []
    for message in messages:
        blocker = oldest.get((message.source_id, message.resource_type, message.resource_id))
        late = blocker is not None and _has_version(message) and blocker < _version_key(message)
        (waiting if late else ready).append(message)
    return ready, waiting


def _has_version(message: InboxMessage) -> bool:
    """Whether the message says which version it is (a version id or the EHR's time): one that
    says neither (a bare delete) applies to whatever the store holds, so it takes no place in line."""
    return bool(message.version_id) or message.ehr_last_updated is not None


def _defer(messages: list[InboxMessage]) -> None:
    """Put waiting versions back, untouched but for their next look (no attempt is counted):
    the older version's worker queues them when it is done, the sweeper otherwise."""
    if not messages:
        return
    InboxMessage.objects.filter(pk__in=[m.pk for m in messages]).update(next_attempt_at=timezone.now() + WAIT_FOR_OLDER)
    logger.info("inbox: %d message(s) wait for an older version of their resource", len(messages))


def _queue_followers(applied_ids: list[int]) -> None:
    """Queue the versions that waited for the ones just applied (after commit)."""
    applied = InboxMessage.objects.filter(pk__in=applied_ids).values_list("resource_type", "resource_id")
    keys = set(applied)
    if not keys:
        return
    followers = [
        pk
        for pk, rtype, rid in InboxMessage.objects.filter(
            status=Status.RECEIVED,
            next_attempt_at__isnull=False,
            resource_type__in={k[0] for k in keys},
            resource_id__in={k[1] for k in keys},
        )
        .exclude(operation=InboxMessage.Operation.FETCH)
        .values_list("pk", "resource_type", "resource_id")
        if (rtype, rid) in keys
    ]
    if not followers:
        return
    InboxMessage.objects.filter(pk__in=followers, status=Status.RECEIVED).update(next_attempt_at=None)  # due now
    for start in range(0, len(followers), BATCH):
        _queue(followers[start : start + BATCH])


def in_version_order(messages: list[InboxMessage]) -> list[InboxMessage]:
    """The messages in their dequeued order, except that the versions of one resource take
    each other's places oldest first (version, then lastUpdated, then arrival): a batch that
    holds v2 before v1 applies v1 then v2, as the EHR made them."""
    slots: dict[tuple[int, str, str], list[int]] = defaultdict(list)
    for index, message in enumerate(messages):
        slots[message.source_id, message.resource_type, message.resource_id].append(index)
    ordered = list(messages)
    for indexes in slots.values():
        if len(indexes) > 1:
            versions = sorted((messages[i] for i in indexes), key=_version_key)
            for index, message in zip(indexes, versions, strict=True):
                ordered[index] = message
    return ordered


def _version_key(message: InboxMessage) -> tuple[int, int, int]:
    moment = message.ehr_last_updated or message.received_at
    return version_seq(message.version_id or ""), micros(moment) if moment else 0, message.pk or 0


class _ChangeFailed(Exception):
    """A handler refused one message of a batch: the batch is undone and tried again without it."""

    def __init__(self, message_id: int) -> None:
        super().__init__(message_id)
        self.message_id = message_id


MAX_BATCH_RETRIES = 5  # handler failures in one batch before the rest go one by one


def _apply_batch(messages: list[InboxMessage]) -> set[int]:
    """Apply together the upserts of stored types, the first version of each resource in the
    batch: each is validated, one multi-row upsert per source and type, the changed rows loaded
    in one query per type, then the handlers called in message order, all in one savepoint.

    Returns the ids applied or failed. A handler that fails undoes the batch: that message's
    attempt is recorded as failed (retried later like any failure, never run twice in one attempt)
    and the batch is tried again without it. The others go
    through ``_process_one`` too: deletes, fetches, a later version of a resource already in the
    batch, anything that does not parse or validate, and a batch the database refuses."""
    candidates: list[tuple[InboxMessage, dict]] = []
    seen: set[tuple[int, str, str]] = set()
    for message in messages:
        key = (message.source_id, message.resource_type, message.resource_id)
        first = key not in seen
        seen.add(key)
        if not first or message.operation != InboxMessage.Operation.UPSERT:
            continue
        try:
            resource = json.loads(message.payload)
            resource.setdefault("id", message.resource_id)
            _validate(resource)
        except Exception:  # noqa: S112 - left to _process_one, which records the error
            continue
        if resource["resourceType"] == message.resource_type and str(resource["id"]) == message.resource_id:
            candidates.append((message, resource))
    failed: set[int] = set()
    for _ in range(MAX_BATCH_RETRIES + 1):
        batch = [(m, r) for m, r in candidates if m.pk not in failed]
        if not batch:
            return failed
        try:
            with transaction.atomic():  # a savepoint: a failure undoes the whole batch
                outcomes = _apply_together(batch)
        except _ChangeFailed as exc:
            # That message's attempt failed (recorded now, not run again); the rest go again without it.
            message = next(m for m, _ in batch if m.pk == exc.message_id)
            message.attempts += 1
            _fail(message, cast(Exception, exc.__cause__))
            failed.add(message.pk)
            continue
        except Exception:
            logger.warning("inbox: a batch of %d failed; applying them one by one", len(batch), exc_info=True)
            return failed
        now = timezone.now()
        for message, _ in batch:
            message.attempts += 1
            message.status, message.outcome = Status.PROCESSED, outcomes[message.pk]
            message.error_code = message.last_error = ""
            message.next_attempt_at, message.processed_at = None, now
        return failed | {message.pk for message, _ in batch}
    return failed


def _apply_together(batch: list[tuple[InboxMessage, dict]]) -> dict[int, str]:
    """Upsert the batch (one statement per source and type), then hand each change to the
    handlers in message order; {message id: outcome}. Raises _ChangeFailed for a handler's failure."""
    groups: dict[tuple[int, str], list[tuple[InboxMessage, dict]]] = defaultdict(list)
    for message, resource in batch:
        groups[message.source_id, message.resource_type].append((message, resource))
    results: dict[int, StoreResult] = {}
    for (source_id, rtype), group in groups.items():
        versions = [(r, m.version_id, m.ehr_last_updated or m.received_at) for m, r in group]
        by_id = resources_upsert(source_id=source_id, resource_type=rtype, versions=versions)
        results.update({m.pk: by_id[m.resource_id] for m, _ in group})
    records: dict[tuple[str, int], Any] = {}
    wanted: dict[str, list[int]] = defaultdict(list)
    for message, _ in batch:
        row_id = results[message.pk].row_id
        if row_id is not None and handlers_for(message.resource_type):
            wanted[message.resource_type].append(row_id)
    for rtype, row_ids in wanted.items():
        for pk, row in store_rows(rtype, row_ids).items():
            records[rtype, pk] = row
    changes = []
    for message, resource in batch:
        result = results[message.pk]
        if result.outcome == "unchanged" or not handlers_for(message.resource_type):
            continue
        record = records.get((message.resource_type, cast(int, result.row_id)))
        changes.append(_change(message, resource, result.outcome, record))
    # Changes of one type that follow each other go to its handlers together, so message order holds.
    for _, run in groupby(changes, key=attrgetter("resource_type")):
        try:
            _hand_over(list(run))
        except ChangeFailed as exc:
            raise _ChangeFailed(exc.message_id) from (exc.__cause__ or exc)
    return {pk: result.outcome for pk, result in results.items()}


def _process_one(message: InboxMessage, fetched: Fetched | None = None) -> None:
    """Apply one message in a savepoint and record the result on it (not saved). A fetched
    message's attempt was counted when it was leased."""
    if fetched is None:
        message.attempts += 1
    try:
        with transaction.atomic():  # a savepoint: a failure undoes this message only
            if fetched is not None:
                _take_fetched(message, fetched)
            message.outcome = _apply(message)
    except Exception as exc:
        _fail(message, exc)
    else:
        message.status, message.error_code, message.last_error = Status.PROCESSED, "", ""
        message.next_attempt_at, message.processed_at = None, timezone.now()


def _fail(message: InboxMessage, exc: Exception) -> None:
    """Record a failed attempt on the message (not saved): dead at once for a PermanentError,
    else retried later, and dead after the last attempt."""
    if isinstance(exc, PermanentError):
        message.status, message.error_code, message.last_error = Status.DEAD, exc.code, str(exc)
        message.next_attempt_at = None
        _remember_failure(message)
        logger.info("inbox: message %s dead-lettered (%s)", message.pk, exc.code)
        return
    # a handler or a transient failure: retry, then dead-letter
    message.error_code = getattr(exc, "code", "") or "error"
    message.last_error = f"{exc.__class__.__name__}: {exc}"[:4000]
    _remember_failure(message)
    if message.attempts >= max_attempts():
        message.status, message.next_attempt_at = Status.DEAD, None
        logger.warning("inbox: message %s dead after %d attempts", message.pk, message.attempts)
    else:
        message.status, message.next_attempt_at = Status.FAILED, next_attempt_at(message.attempts)
        logger.info("inbox: message %s failed (attempt %d), will retry", message.pk, message.attempts)


def _remember_failure(message: InboxMessage) -> None:
    """Add this attempt's cause to the message's history: ``last_error`` says only the latest
    (and is cleared by a success), the history keeps why each attempt failed."""
    entry = {
        "at": timezone.now().isoformat(),
        "attempt": message.attempts,
        "code": message.error_code,
        "error": message.last_error[:2000],
    }
    message.failures = [*(message.failures or []), entry][-MAX_FAILURES_KEPT:]


def _apply(message: InboxMessage) -> str:
    if message.operation == InboxMessage.Operation.DELETE:
        return _apply_delete(message)
    try:
        resource = json.loads(message.payload)
    except json.JSONDecodeError as exc:
        raise PermanentError(f"Stored payload is not JSON: {exc.msg}", code="invalid") from exc
    resource_type = message.resource_type
    handlers = handlers_for(resource_type)
    resource.setdefault("id", message.resource_id)
    _validate(resource)  # every R4 type is stored (typed model or the generic store); others are refused
    last_updated = message.ehr_last_updated or message.received_at
    result = resource_upsert(
        source_id=message.source_id, resource=resource, version_id=message.version_id, last_updated=last_updated
    )
    if result.outcome == "unchanged":
        return result.outcome
    record = store_model_for(resource_type).objects.get(pk=result.row_id) if handlers else None
    if handlers:
        _call_handlers(message, resource, result.outcome, record, handlers)
    return result.outcome


def _apply_delete(message: InboxMessage) -> str:
    resource_type = message.resource_type
    tombstone = {"resourceType": resource_type, "id": message.resource_id}
    handlers = handlers_for(resource_type)
    if not is_resource_type(resource_type):
        raise PermanentError(f"{resource_type[:64]} is not an R4 resource type", code="invalid")
    last_updated = message.ehr_last_updated or message.received_at
    version_id = message.version_id
    if not version_id and message.ehr_last_updated is None:
        # A delete that says neither version nor time applies to whatever the store holds.
        current = store_rows_of(resource_type).filter(source_id=message.source_id, fhir_id=message.resource_id)
        if row := current.values_list("version_id", "last_updated_us").first():
            version_id = row[0]
            if micros(last_updated) <= row[1]:
                last_updated = last_updated + timedelta(microseconds=row[1] - micros(last_updated) + 1)
    result = resource_upsert(
        source_id=message.source_id, resource=tombstone, version_id=version_id, last_updated=last_updated, deleted=True
    )
    if result.outcome == "unchanged":
        return result.outcome
    record = store_model_for(resource_type).objects.get(pk=result.row_id) if handlers else None
    if handlers:
        _call_handlers(message, tombstone, "deleted", record, handlers)
    return InboxMessage.Outcome.DELETED


def _change(message: InboxMessage, resource: dict, outcome: str, record: Any) -> ResourceChange:
    return ResourceChange(
        source_id=message.source_id,
        resource_type=message.resource_type,
        resource_id=message.resource_id,
        outcome=outcome,
        resource=resource,
        record=record,
        message_id=message.pk,
        correlation_id=message.correlation_id,
    )


def _hand_over(changes: list[ResourceChange]) -> None:
    """Hand changes of one type to each of its (batch) handlers, in order."""
    for handler in handlers_for(changes[0].resource_type):
        handler(changes)


def _call_handlers(message: InboxMessage, resource: dict, outcome: str, record: Any, handlers: list) -> None:
    """One message's change, as a batch of one; a handler's failure raises its own cause."""
    try:
        _hand_over([_change(message, resource, outcome, record)])
    except ChangeFailed as exc:
        raise (exc.__cause__ or exc) from None


def is_resource_type(name: str) -> bool:
    """Whether ``name`` is an R4 resource type (not a data type, not made up)."""
    try:
        return issubclass(get_fhir_model_class(name), FhirModelResource)
    except (KeyError, ValueError):
        return False


def _validate(resource: dict[str, Any]) -> None:
    if not is_resource_type(str(resource["resourceType"])):
        raise PermanentError(f"{str(resource['resourceType'])[:64]} is not an R4 resource type", code="invalid")
    model_class = get_fhir_model_class(resource["resourceType"])
    try:
        model_class.model_validate(resource)
    except ValidationError as exc:
        problems = [
            f"{resource['resourceType']}.{'.'.join(str(p) for p in err['loc'] if p != '__root__')}: {err['msg']}"
            for err in exc.errors()[:5]
        ]
        more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        raise PermanentError("Not valid FHIR R4: " + "; ".join(problems) + more, code="invalid") from exc


def _lease(messages: list[InboxMessage]) -> None:
    """Count an attempt on each message to fetch and lease it (in the caller's transaction, which
    holds the row locks). The fetches run one after another, so each lease covers those before it."""
    if not messages:
        return
    now = timezone.now()
    for position, message in enumerate(messages, start=1):
        message.attempts += 1
        message.next_attempt_at = now + fetch_lease() * position
    _save_results(messages, ["attempts", "next_attempt_at"])


def _store_fetched(message: InboxMessage, fetched: Fetched) -> None:
    """Store what the EHR answered and apply it, in one short transaction, if the message still
    carries this worker's lease (it may have been retried from the console meanwhile)."""
    with transaction.atomic():
        leased = list(
            InboxMessage.objects.select_for_update(of=("self",))
            .filter(
                pk=message.pk,
                operation=InboxMessage.Operation.FETCH,
                status__in=(Status.RECEIVED, Status.FAILED),
                attempts=message.attempts,
                next_attempt_at=message.next_attempt_at,
            )
            .values_list("pk", flat=True)
        )
        if not leased:
            logger.warning("inbox: message %s changed while it was being fetched; result not recorded", message.pk)
            return
        _process_one(message, fetched)
        _save_results([message], RESULT_FIELDS + FETCHED_FIELDS)


def _take_fetched(message: InboxMessage, fetched: Fetched) -> None:
    """Turn an id-only message into the upsert (or delete) the EHR's answer makes of it."""
    if isinstance(fetched.error, FhirHttpError):
        if fetched.error.status in (404, 410):
            message.operation = InboxMessage.Operation.DELETE
            return
        raise PermanentError(
            f"The EHR refused the read: HTTP {fetched.error.status}", code="fetch_refused"
        ) from fetched.error
    if fetched.error is not None:
        raise fetched.error
    resource = fetched.resource or {}
    message.payload = json.dumps(resource, separators=(",", ":"), ensure_ascii=False)
    message.sha256 = hashlib.sha256(message.payload.encode()).hexdigest()
    meta = resource.get("meta") or {}
    message.version_id = str(meta.get("versionId") or message.version_id)[:64]
    message.ehr_last_updated = parse_instant(str(meta.get("lastUpdated") or "")) or message.ehr_last_updated
    message.operation = InboxMessage.Operation.UPSERT


def inbox_sweep(*, now=None) -> int:
    """Queue what is stranded in ``received`` and failures that are due; returns how many."""
    now = now or timezone.now()
    ids = list(
        InboxMessage.objects.filter(
            # A received message with a time ahead is being fetched: its lease must run out first.
            Q(status=Status.RECEIVED, received_at__lte=now - timedelta(seconds=settings.EHR_INBOX_STRANDED_SECONDS))
            & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            | Q(status=Status.FAILED, next_attempt_at__lte=now)
        )
        .order_by("id")
        .values_list("id", flat=True)[:10_000]
    )
    for start in range(0, len(ids), BATCH):
        _queue(ids[start : start + BATCH])
    return len(ids)
