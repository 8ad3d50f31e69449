"""The inbox's only network: reading the resource of each id-only message from its EHR.

Called by ``inbox_process`` with no database transaction open, between the transaction that
leases the messages and the one that stores what the EHR answered (see apps.ehr.services.inbox).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings

from ..client import client_for
from ..models import InboxMessage


@dataclass(frozen=True)
class Fetched:
    """What the EHR answered to one read: the resource, or the error (404/410: it is gone)."""

    resource: dict[str, Any] | None = None
    error: Exception | None = None


def fetch_lease() -> timedelta:
    """Longer than one fetch can take: a token fetch and a read, each timing out."""
    return timedelta(seconds=max(60.0, 3 * float(getattr(settings, "EHR_HTTP_TIMEOUT_SECONDS", 30))))


def fetch_all(messages: list[InboxMessage]) -> Iterable[tuple[InboxMessage, Fetched]]:
    """Read each message's resource from its EHR (one client per source); never raises for a
    failed read, which is returned to be recorded like any processing failure."""
    by_source: dict[int, list[InboxMessage]] = defaultdict(list)
    for message in messages:
        by_source[message.source_id].append(message)
    for group in by_source.values():
        try:
            client = client_for(group[0].source)
        except Exception as exc:  # a source not set up to be called: each message records it
            for message in group:
                yield message, Fetched(error=exc)
            continue
        with client:
            for message in group:
                yield message, _fetch(client, message)


def _fetch(client: Any, message: InboxMessage) -> Fetched:
    try:
        return Fetched(resource=client.read(message.resource_type, message.resource_id))
    except Exception as exc:  # recorded with the message (retry, or dead letter)
        return Fetched(error=exc)
