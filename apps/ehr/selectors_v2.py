"""Reads for the console's HL7 v2 pages: the message list (filtered, keyset-paged), one message
with its segments laid out, its ACK and the FHIR inbox messages it became."""

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from .models import Hl7AppAck, Hl7Message, InboxMessage
from .v2.readable import ReadableSegment, readable

PAGE = 50


@dataclass
class Hl7Page:
    items: list[Hl7Message]
    next_cursor: str
    first: bool


def hl7_filter(*, filters: dict[str, Any]) -> QuerySet[Hl7Message]:
    rows = Hl7Message.objects.select_related("source")
    if source := filters.get("source"):
        rows = rows.filter(source__name=source)
    if status := filters.get("status"):
        rows = rows.filter(status=status)
    if kind := filters.get("type"):
        rows = rows.filter(message_type__istartswith=kind)
    if control := filters.get("control_id"):
        rows = rows.filter(control_id=control)
    if app_ack := filters.get("app_ack"):
        rows = rows.filter(app_ack__status=app_ack)
    return rows


def hl7_list(*, filters: dict[str, Any], after: str | None = None) -> Hl7Page:
    """Newest first, ``PAGE`` at a time; ``after`` is the last id of the previous page."""
    rows = hl7_filter(filters=filters).order_by("-id")
    if after and after.isdigit():
        rows = rows.filter(id__lt=int(after))
    items = list(rows[: PAGE + 1])
    more = len(items) > PAGE
    items = items[:PAGE]
    return Hl7Page(items, str(items[-1].pk) if more and items else "", not after)


@dataclass
class Hl7Detail:
    message: Hl7Message
    segments: list[ReadableSegment]
    ack_segments: list[ReadableSegment]
    resources: list[InboxMessage]
    patient: str  # the patient reference for the access log ("unknown" when none)
    text: str
    app_ack: Hl7AppAck | None = None  # enhanced mode: the application ACK owed to the sender
    app_ack_segments: list[ReadableSegment] | None = None


def hl7_get(*, message_id: int) -> Hl7Detail:
    message = get_object_or_404(Hl7Message.objects.select_related("source", "envelope"), pk=message_id)
    raw = bytes(message.envelope.raw)
    text = raw.decode(message.charset or "utf-8", errors="replace")
    resources = list(InboxMessage.objects.filter(envelope=message.envelope).order_by("id"))
    patient = next((f"Patient/{m.resource_id}" for m in resources if m.resource_type == "Patient"), "unknown")
    app_ack = Hl7AppAck.objects.filter(message=message).first()
    return Hl7Detail(
        message, readable(text), readable(message.ack), resources, patient[:128], text,
        app_ack, readable(app_ack.ack) if app_ack else None,
    )  # fmt: skip


def hl7_status_counts() -> dict[int, Counter]:
    """{source id: Counter(status → v2 messages)}, all time (one grouped query)."""
    found: dict[int, Counter] = defaultdict(Counter)
    rows = Hl7Message.objects.values_list("source_id", "status").annotate(n=Count("id")).order_by()
    for source_id, status, n in rows:
        found[source_id][status] = n
    return dict(found)


def hl7_app_ack_status_counts() -> dict[int, Counter]:
    """{source id: Counter(status → application ACKs)}, all time (one grouped query)."""
    found: dict[int, Counter] = defaultdict(Counter)
    rows = Hl7AppAck.objects.values_list("source_id", "status").annotate(n=Count("id")).order_by()
    for source_id, status, n in rows:
        found[source_id][status] = n
    return dict(found)
