"""Reads for the integration console and the KPI scorecards: message lists (filtered, keyset
paginated), one message, status counts per source and the feed's health figures.

Inbox and outbox messages belong to an EHR source, not to a site, so these reads are not
site-scoped; the views that call them require ``core.administer_integrations``.
"""

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Aggregate, Count, F, FloatField, Func, Q, QuerySet
from django.db.models.functions import Left
from django.http import Http404
from django.utils.dateparse import parse_datetime

from apps.core.sql_relations import sql_relation

from .models import EhrSource, InboxMessage, OutboxMessage, Patient

PAGE_SIZE = 50
SHORT_ERROR = 120
# SQLite has no percentile_cont: latencies are computed in Python over at most this many of
# the most recently processed messages in the period (exact below it, a recent sample above).
LATENCY_SAMPLE = 50_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Secrets and large columns a list never shows.
_SOURCE_SECRETS = ("source__bearer_token", "source__private_key_pem", "source__webhook_token_hash")


# --- patients ------------------------------------------------------------------------


def patient_refs_find(text: str) -> list[str]:
    """``Patient/<id>`` of at most two local patients matching ``text`` (that reference, or an MRN)."""
    kind, _, fhir_id = text.strip().partition("/")
    found = Patient.objects.filter(fhir_id=fhir_id) if kind == "Patient" else Patient.objects.filter(mrn=text.strip())
    return [f"Patient/{pk}" for pk in found.values_list("fhir_id", flat=True)[:2]]


# --- lists and details ---------------------------------------------------------------


@dataclass
class MessagePage:
    items: list[Any]
    next_cursor: str | None
    first: bool


def cursor_encode(at: datetime, pk: int) -> str:
    """A keyset cursor for (time, id): exact to the microsecond, readable, URL-safe."""
    delta = at - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros}_{pk}"


def cursor_decode(cursor: str | None) -> tuple[datetime, int] | None:
    """The (time, id) in a cursor, or None for a missing or malformed one (the first page)."""
    try:
        micros, pk = (cursor or "").split("_")
        return _EPOCH + timedelta(microseconds=int(micros)), int(pk)
    except (ValueError, OverflowError):
        return None


def _filter(qs: QuerySet, filters: Mapping[str, Any], time_field: str) -> QuerySet:
    if status := filters.get("status"):
        qs = qs.filter(status=status)
    if source_id := filters.get("source_id"):
        qs = qs.filter(source_id=source_id)
    if resource_type := filters.get("resource_type"):
        qs = qs.filter(resource_type=resource_type)
    if correlation_id := filters.get("correlation_id"):
        qs = qs.filter(correlation_id=correlation_id)
    if since := filters.get("since"):
        qs = qs.filter(**{f"{time_field}__gte": since})
    if until := filters.get("until"):
        qs = qs.filter(**{f"{time_field}__lte": until})
    return qs


def _page(qs: QuerySet, time_field: str, after: str | None, limit: int) -> MessagePage:
    """Newest first by (time, id); ``after`` is the cursor of the last row of the previous page."""
    qs = qs.order_by(f"-{time_field}", "-id")
    position = cursor_decode(after)
    if position is not None:
        at, pk = position
        qs = qs.filter(Q(**{f"{time_field}__lt": at}) | Q(**{time_field: at, "id__lt": pk}))
    rows = list(qs[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = cursor_encode(getattr(rows[-1], time_field), rows[-1].pk)
    return MessagePage(items=rows, next_cursor=next_cursor, first=position is None)


def inbox_filter(*, filters: Mapping[str, Any]) -> QuerySet[InboxMessage]:
    """Inbox messages matching the console filters (keys: status, source_id, resource_type,
    correlation_id, since, until — each optional; times are inclusive)."""
    return _filter(InboxMessage.objects.all(), filters, "received_at")


def inbox_dead_count(*, filters: Mapping[str, Any]) -> int:
    """How many dead letters match the console filters: what a replay would queue."""
    return inbox_filter(filters=filters).filter(status=InboxMessage.Status.DEAD).count()


def inbox_list(*, filters: Mapping[str, Any], after: str | None = None, limit: int = PAGE_SIZE) -> MessagePage:
    """One page of matching inbox messages, newest first, without payloads; two queries at most."""
    qs = (
        inbox_filter(filters=filters)
        .select_related("source")
        .defer("payload", "last_error", *_SOURCE_SECRETS)
        .annotate(short_error=Left("last_error", SHORT_ERROR))
    )
    return _page(qs, "received_at", after, limit)


def inbox_get(*, message_id: int) -> InboxMessage:
    """One inbox message with its source, payload included."""
    message = InboxMessage.objects.select_related("source").defer(*_SOURCE_SECRETS).filter(pk=message_id).first()
    if message is None:
        raise Http404("No such inbox message.")
    return message


def outbox_filter(*, filters: Mapping[str, Any]) -> QuerySet[OutboxMessage]:
    """Outbox messages matching the console filters (as ``inbox_filter``; time is created_at)."""
    return _filter(OutboxMessage.objects.all(), filters, "created_at")


def outbox_list(*, filters: Mapping[str, Any], after: str | None = None, limit: int = PAGE_SIZE) -> MessagePage:
    """One page of matching outbox messages, newest first, without their changes."""
    qs = (
        outbox_filter(filters=filters)
        .select_related("source")
        .defer("changes", "last_error", *_SOURCE_SECRETS)
        .annotate(short_error=Left("last_error", SHORT_ERROR))
    )
    return _page(qs, "created_at", after, limit)


def outbox_get(*, message_id: int) -> OutboxMessage:
    """One outbox message with its source."""
    message = OutboxMessage.objects.select_related("source").defer(*_SOURCE_SECRETS).filter(pk=message_id).first()
    if message is None:
        raise Http404("No such outbox message.")
    return message


def _reference_to_patient(value: Any) -> str:
    reference = value.get("reference") if isinstance(value, dict) else None
    if not isinstance(reference, str) or "Patient/" not in reference:
        return ""
    # "Patient/1", or an absolute "https://ehr.example.org/fhir/Patient/1/_history/2"
    parts = reference[reference.rindex("Patient/") :].split("/")
    return "/".join(parts[:2])[:128] if len(parts) >= 2 and parts[1] else ""


def patient_reference(*, resource_type: str, resource_id: str, document: Any) -> str:
    """The patient a message is about: ``Patient/<id>`` for a Patient, else the resource's
    subject / patient / for reference, else "unknown" (what the access log records)."""
    resource = document if isinstance(document, dict) else {}
    if resource_type == "Patient" or resource.get("resourceType") == "Patient":
        pid = resource.get("id") or resource_id
        return f"Patient/{pid}"[:128] if pid else "unknown"
    for key in ("subject", "patient", "for", "beneficiary"):
        if found := _reference_to_patient(resource.get(key)):
            return found
    return "unknown"


def payload_document(payload: str) -> Any:
    """The payload parsed as JSON, or None when it is empty or not JSON (an invalid message)."""
    try:
        return json.loads(payload) if payload else None
    except ValueError:
        return None


# --- counts and health figures -------------------------------------------------------


@dataclass(frozen=True)
class StatusCounts:
    """How many messages of one source are in each state right now (all time)."""

    inbox: dict[str, int] = field(default_factory=lambda: dict.fromkeys(InboxMessage.Status.values, 0))
    outbox: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OutboxMessage.Status.values, 0))


@dataclass(frozen=True)
class SourceStats:
    """One source's feed over a period [since, until)."""

    source_id: int
    source_name: str
    since: datetime
    until: datetime
    received: int  # inbox messages received in the period
    invalid: int  # of those, how many carry error_code "invalid" now
    latency_samples: int  # processed messages the latency is computed over
    latency_p50_seconds: float | None
    latency_p95_seconds: float | None
    dead_open: int  # dead letters waiting now (received before ``until``), whenever they died

    @property
    def error_rate(self) -> float | None:
        """Payload error rate: invalid / received, or None when nothing was received."""
        return self.invalid / self.received if self.received else None


def message_status_counts(*, source_id: int | None = None) -> dict[int, StatusCounts]:
    """Inbox and outbox messages per source and status, in two GROUP BY queries."""
    inbox = InboxMessage.objects.all()
    outbox = OutboxMessage.objects.all()
    if source_id is not None:
        inbox, outbox = inbox.filter(source_id=source_id), outbox.filter(source_id=source_id)
    counts: dict[int, StatusCounts] = {}
    for row in inbox.order_by().values("source_id", "status").annotate(n=Count("id")):
        counts.setdefault(row["source_id"], StatusCounts()).inbox[row["status"]] = row["n"]
    for row in outbox.order_by().values("source_id", "status").annotate(n=Count("id")):
        counts.setdefault(row["source_id"], StatusCounts()).outbox[row["status"]] = row["n"]
    return counts


class _PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate ``percentile_cont(f) WITHIN GROUP (ORDER BY x)``."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def _epoch_seconds(expression: Any) -> Func:
    return Func(
        expression, template="CAST(EXTRACT(EPOCH FROM %(expressions)s) AS double precision)", output_field=FloatField()
    )


def percentile_cont(sorted_values: list[float], fraction: float) -> float | None:
    """percentile_cont in Python (linear interpolation between the closest ranks), as PostgreSQL."""
    if not sorted_values:
        return None
    position = fraction * (len(sorted_values) - 1)
    low, high = math.floor(position), math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def _latency_base(since: datetime, until: datetime, source_id: int | None) -> QuerySet[InboxMessage]:
    qs = InboxMessage.objects.filter(
        status=InboxMessage.Status.PROCESSED,
        processed_at__gte=since,
        processed_at__lt=until,
        ehr_last_updated__isnull=False,
    ).exclude(channel=InboxMessage.Channel.BULK)
    return qs.filter(source_id=source_id) if source_id is not None else qs


Latency = tuple[int, float | None, float | None]  # samples, p50 seconds, p95 seconds


def _latencies(since: datetime, until: datetime, source_id: int | None) -> dict[int, Latency]:
    """source id -> (samples, p50, p95) in seconds. One query on either database."""
    qs = _latency_base(since, until, source_id).order_by()
    if connection.vendor == "postgresql":
        seconds = _epoch_seconds(F("processed_at") - F("ehr_last_updated"))
        rows = qs.values("source_id").annotate(
            n=Count("id"), p50=_PercentileCont(seconds, 0.5), p95=_PercentileCont(seconds, 0.95)
        )
        return {r["source_id"]: (r["n"], r["p50"], r["p95"]) for r in rows}
    by_source: dict[int, list[float]] = {}
    recent = qs.order_by("-processed_at").values_list("source_id", "ehr_last_updated", "processed_at")
    for sid, event_at, processed_at in recent[:LATENCY_SAMPLE]:
        if event_at is None or processed_at is None:  # not there: the query asks for both
            continue
        by_source.setdefault(sid, []).append((processed_at - event_at).total_seconds())
    out = {}
    for sid, values in by_source.items():
        values.sort()
        out[sid] = (len(values), percentile_cont(values, 0.5), percentile_cont(values, 0.95))
    return out


def integration_stats(*, since: datetime, until: datetime, source_id: int | None = None) -> list[SourceStats]:
    """The feed's health per source over [since, until), every source listed (by name), in four queries.

    - received: inbox messages with received_at in the period; invalid: those whose error_code
      is "invalid" (a payload the EHR must fix; cleared if a replay later succeeds).
    - latency: EHR event time (meta.lastUpdated) to processed_at, over messages processed in
      the period; bulk-file imports are left out (their event times are history, not lag).
      PostgreSQL computes percentile_cont in the database; other databases fetch the two
      times of at most LATENCY_SAMPLE recent messages and interpolate the same way in Python.
    - dead_open: dead letters now, among messages received before ``until`` (a gauge, not a
      flow: a dead letter stays open until it is replayed, however old it is).
    """
    sources = EhrSource.objects.order_by("name").only("id", "name")
    inbox = InboxMessage.objects.order_by()
    if source_id is not None:
        sources, inbox = sources.filter(pk=source_id), inbox.filter(source_id=source_id)
    flow = {
        r["source_id"]: r
        for r in inbox.filter(received_at__gte=since, received_at__lt=until)
        .values("source_id")
        .annotate(received=Count("id"), invalid=Count("id", filter=Q(error_code="invalid")))
    }
    dead = dict(
        inbox.filter(status=InboxMessage.Status.DEAD, received_at__lt=until)
        .values("source_id")
        .annotate(n=Count("id"))
        .values_list("source_id", "n")
    )
    latency = _latencies(since, until, source_id)
    stats = []
    for source in sources:
        counts: Mapping[str, Any] = flow.get(source.pk, {})
        samples, p50, p95 = latency.get(source.pk, (0, None, None))
        stats.append(
            SourceStats(
                source_id=source.pk,
                source_name=source.name,
                since=since,
                until=until,
                received=counts.get("received", 0),
                invalid=counts.get("invalid", 0),
                latency_samples=samples,
                latency_p50_seconds=p50,
                latency_p95_seconds=p95,
                dead_open=dead.get(source.pk, 0),
            )
        )
    return stats


# --- for SQL readers (kpis) -----------------------------------------------------------

# The inbox as an SQL relation (``FROM {INBOX_MESSAGES_SQL} m``; apps.core.sql_relations), one row
# per inbound message: ``id``, ``resource_type``, ``status`` (``InboxMessage.Status`` values, e.g.
# "processed", "dead"), ``received_at``, ``processed_at`` (NULL until processed),
# ``ehr_last_updated`` (the resource's meta.lastUpdated, NULL if absent), ``error_code`` ('' if none)
# and ``channel`` (``InboxMessage.Channel`` values: "bulk" file imports carry history, not feed lag).
INBOX_MESSAGES_SQL = sql_relation(
    InboxMessage,
    id="id",
    channel="channel",
    resource_type="resource_type",
    status="status",
    received_at="received_at",
    processed_at="processed_at",
    ehr_last_updated="ehr_last_updated",
    error_code="error_code",
)
# The outbox likewise (``FROM {OUTBOX_MESSAGES_SQL} m``): ``id``, ``resource_type``, ``status``
# (``OutboxMessage.Status`` values, e.g. "sent", "dead") and ``created_at``.
OUTBOX_MESSAGES_SQL = sql_relation(
    OutboxMessage, id="id", resource_type="resource_type", status="status", created_at="created_at"
)


def message_failures(message: InboxMessage | OutboxMessage) -> list[dict[str, Any]]:
    """Why each failed attempt of an inbox or outbox message failed, newest first (``at`` as a datetime)."""
    rows = [
        {**failure, "at": parse_datetime(str(failure.get("at") or ""))}
        for failure in message.failures or []
        if isinstance(failure, dict)
    ]
    return rows[::-1]


# --- retention -----------------------------------------------------------------------


def retention_summary(*, source: EhrSource) -> str:
    """The source's retention in plain words: the period, what is never pruned, the last run's counts."""
    if source.legal_hold:
        return "Under legal hold: nothing from this source is pruned until the hold is lifted."
    if source.retention_days is None:
        return "Processed messages are kept for good: no retention period is set."
    days = source.retention_days
    rule = (
        f"Processed messages are kept {days} day{'s' if days != 1 else ''}, then removed by the daily "
        "pruning; dead letters and messages under legal hold are never removed."
    )
    last = source.retention_runs.order_by("-ran_at", "-id").first()
    if last is None:
        return f"{rule} Not pruned yet."
    return (
        f"{rule} Last pruned {last.ran_at:%d %b %Y %H:%M} UTC: {last.messages_removed:,} "
        f"message{'s' if last.messages_removed != 1 else ''} and {last.deliveries_removed:,} "
        f"deliver{'ies' if last.deliveries_removed != 1 else 'y'} removed, {last.outbox_payloads_cleared:,} "
        f"sent update{'s' if last.outbox_payloads_cleared != 1 else ''} emptied; kept {last.held_kept:,} "
        f"held and {last.dead_kept:,} dead letter{'s' if last.dead_kept != 1 else ''}."
    )


def dead_letters_open(*, source_ids: Iterable[int]) -> int:
    """Dead letters, inbound and outbound, of these sources still waiting for a retry or replay."""
    ids = list(source_ids)
    dead_in = InboxMessage.objects.filter(source_id__in=ids, status=InboxMessage.Status.DEAD).count()
    return dead_in + OutboxMessage.objects.filter(source_id__in=ids, status=OutboxMessage.Status.DEAD).count()
