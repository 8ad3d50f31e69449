"""Small factories for EHR sources and inbox/outbox rows, written straight to the tables (the
console reads whatever the pipeline left there, so tests set every state by hand)."""

import hashlib
import itertools
import json
import uuid
from datetime import datetime
from typing import Any

from django.utils import timezone

from apps.ehr.models import EhrSource, InboxMessage, OutboxMessage
from apps.ehr.services.envelope import parse_instant
from apps.ehr.services.inbox import inbox_receive

_seq = itertools.count(1)


def source_make(name: str | None = None, **fields: Any) -> EhrSource:
    name = name or f"ehr-{next(_seq)}"
    source, _ = EhrSource.objects.get_or_create(name=name, defaults={"base_url": "http://127.0.0.1:9/fhir", **fields})
    return source


def patient_resource(pid: str = "p1", version: str = "1", family: str = "Doe") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "meta": {"versionId": version, "lastUpdated": "2025-01-01T00:00:00Z"},
        "name": [{"family": family}],
    }


def inbox_make(
    *,
    source: EhrSource | None = None,
    resource: dict[str, Any] | None = None,
    payload: str | None = None,
    status: str = InboxMessage.Status.RECEIVED,
    received_at: datetime | None = None,
    **fields: Any,
) -> InboxMessage:
    """One inbox message; ``resource`` (a dict) fills payload, type, id and version."""
    n = next(_seq)
    resource = resource if resource is not None else patient_resource(f"p{n}")
    if payload is None:
        payload = json.dumps(resource)
    defaults: dict[str, Any] = {
        "source": source or source_make("test-ehr"),
        "idempotency_key": uuid.uuid4().hex,
        "sha256": hashlib.sha256(payload.encode()).hexdigest(),
        "payload": payload,
        "channel": InboxMessage.Channel.WEBHOOK,
        "resource_type": resource.get("resourceType", "Patient"),
        "resource_id": str(resource.get("id", f"r{n}")),
        "version_id": str((resource.get("meta") or {}).get("versionId", "1")),
        "ehr_last_updated": parse_instant(str((resource.get("meta") or {}).get("lastUpdated", ""))),
        "correlation_id": f"corr-{n}",
        "received_at": received_at or timezone.now(),
        "status": status,
    }
    if status == InboxMessage.Status.DEAD:
        problem = f"Not valid FHIR R4: {defaults['resource_type']}.status: Field required"
        defaults.update(attempts=5, error_code="invalid", last_error=problem)
    elif status == InboxMessage.Status.FAILED:
        defaults.update(attempts=2, error_code="error", last_error="OperationalError: database is locked")
    elif status == InboxMessage.Status.PROCESSED:
        defaults.update(attempts=1, outcome=InboxMessage.Outcome.NEW, processed_at=defaults["received_at"])
    defaults.update(fields)
    return InboxMessage.objects.create(**defaults)


def outbox_make(
    *,
    source: EhrSource | None = None,
    status: str = OutboxMessage.Status.PENDING,
    created_at: datetime | None = None,
    **fields: Any,
) -> OutboxMessage:
    n = next(_seq)
    defaults: dict[str, Any] = {
        "source": source or source_make("test-ehr"),
        "resource_type": "Task",
        "resource_id": f"t{n}",
        "operation": OutboxMessage.Operation.UPDATE,
        "changes": {"status": "accepted", "for": {"reference": f"Patient/p{n}"}},
        "if_match_version": "1",
        "correlation_id": f"out-{n}",
        "created_at": created_at or timezone.now(),
        "status": status,
    }
    if status in (OutboxMessage.Status.FAILED, OutboxMessage.Status.DEAD):
        defaults.update(attempts=5 if status == OutboxMessage.Status.DEAD else 1, last_error="HTTP 412: version moved")
        defaults.update(response_status=412)
    elif status == OutboxMessage.Status.SENT:
        defaults.update(attempts=1, response_status=200, response_version="2", sent_at=defaults["created_at"])
    defaults.update(fields)
    return OutboxMessage.objects.create(**defaults)


def matrix_inbox_kwargs(site: Any) -> dict[str, int]:
    """URL kwargs for the access matrix's inbox detail row: a message that exists (no site)."""
    return {"pk": inbox_make(status=InboxMessage.Status.DEAD).pk}


def matrix_outbox_kwargs(site: Any) -> dict[str, int]:
    """URL kwargs for the access matrix's outbox detail row."""
    return {"pk": outbox_make(status=OutboxMessage.Status.DEAD).pk}


def feed(source, *resources: dict[str, Any], capture) -> list[InboxMessage]:
    """Deliver resources as the EHR would and run their processing (after commit)."""
    messages = []
    for resource in resources:
        with capture(execute=True):
            receipt = inbox_receive(source=source, body=resource, channel=InboxMessage.Channel.WEBHOOK)
        messages.extend(InboxMessage.objects.filter(pk__in=[line.id for line in receipt.messages]))
    for message in messages:
        message.refresh_from_db()
    return messages
