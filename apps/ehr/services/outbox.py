"""The outbox: changes the EHR must hear about (the closed loop), written in the caller's
transaction and sent by a relay with retries and dead letters.

    outbox_enqueue — store a message in the caller's transaction (no I/O); send it after commit
    outbox_send    — claim a due message, call the EHR outside any transaction, record the result
    outbox_due     — ids of messages whose (next) attempt is due, for the beat relay
    outbox_retry   — put failed or dead messages back in line (integration console)

Claiming: a send first takes the row in a short transaction (``SELECT … FOR UPDATE SKIP
LOCKED``), counts the attempt and leases the row by pushing ``next_attempt_at`` past the longest
the call can take, then commits; only then does it call the EHR; the result is written in a new
short transaction and only if ``attempts`` is still what this send claimed. So two relays never
send one message at once, a crashed send is picked up again when its lease runs out, and no
database transaction stays open across the network.

An UPDATE reads the resource, asks the guards registered for its type whether the change may
still be made to what the EHR holds now (a refusal is a dead letter with the guard's reason:
the change is never made to a resource that is no longer the one meant), sets the top-level
elements in ``changes`` and writes it back with ``If-Match`` on the version just read; when
someone else changed it in between (412) it reads again and retries once. Transient failures
(no answer, 408, 429, 5xx, a second 412) back off exponentially (apps.ehr.retry); a refusal
(other 4xx) or the last attempt makes a dead letter.
Logs carry ids, statuses and error classes, never the resource or the server's diagnostics.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.errors import ApplicationError
from apps.core.models import User

from ..client import FhirClient, FhirClientError, FhirHttpError, WriteResult, client_for
from ..models import EhrSource, OutboxMessage
from ..retry import max_attempts, next_attempt_at

logger = logging.getLogger(__name__)
MAX_FAILURES_KEPT = 50
Status = OutboxMessage.Status
Operation = OutboxMessage.Operation
SENDABLE = (Status.PENDING, Status.FAILED)
# A pending message is normally sent by the task queued on commit; the relay picks it up only
# if that has not happened within this time (the broker was down, or the worker died).
STRANDED_AFTER = timedelta(seconds=60)
RETRY_PERMISSION = "core.administer_integrations"


class OutboxRefused(FhirClientError):
    """A guard said the change must not be made to the resource as the EHR holds it now."""


class _StillConflicting(FhirClientError):
    """Two 412s in one attempt: someone keeps changing the resource; try again later."""

    transient = True


def outbox_enqueue(
    *,
    source: EhrSource,
    resource_type: str,
    resource_id: str,
    changes: dict[str, Any],
    dedupe_key: str | None = None,
    if_match_version: str = "",
    correlation_id: str = "",
    operation: str = Operation.UPDATE,
) -> OutboxMessage:
    """Store a change for the EHR in the caller's transaction; its send is queued after commit.

    No I/O. Idempotent on ``dedupe_key``: the same key again returns the message already
    stored (the first one wins), also when two transactions race to store it.
    """
    if not isinstance(changes, dict) or not changes:
        raise ApplicationError("An outbox message needs the changes to send.", code="outbox_invalid")
    if operation == Operation.UPDATE and not resource_id:
        raise ApplicationError("An update needs the id of the resource to change.", code="outbox_invalid")
    fields = {
        "source": source,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "operation": operation,
        "changes": changes,
        "if_match_version": if_match_version or "",
        "correlation_id": (correlation_id or uuid.uuid4().hex)[:64],
    }
    if dedupe_key:
        existing = OutboxMessage.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
        try:
            # A savepoint: losing the race must not break the caller's transaction.
            with transaction.atomic():
                message = OutboxMessage.objects.create(dedupe_key=dedupe_key, **fields)
        except IntegrityError:
            return OutboxMessage.objects.get(dedupe_key=dedupe_key)
    else:
        message = OutboxMessage.objects.create(**fields)
    transaction.on_commit(partial(_queue_send, message.pk))
    return message


# Workflow apps that must hear what the EHR answered (a booking taken or refused) register here
# in AppConfig.ready(); ehr never imports them. Called after the result is recorded, outside any
# transaction; a listener must be idempotent (a sweep may call it again) and never raise.
Listener = Callable[[OutboxMessage, dict[str, Any]], None]
_listeners: dict[str, list[Listener]] = {}


def outbox_listener_register(resource_type: str, listener: Listener) -> None:
    """Call ``listener(message, body)`` for each message of ``resource_type`` once it is sent (with
    the resource the EHR answered) or dead (body empty)."""
    if listener not in _listeners.setdefault(resource_type, []):
        _listeners[resource_type].append(listener)


def _tell_listeners(message: OutboxMessage, body: dict[str, Any]) -> None:
    if message.status not in (Status.SENT, Status.DEAD):
        return
    for listener in _listeners.get(message.resource_type, []):
        try:
            listener(message, body if message.status == Status.SENT else {})
        except Exception:  # a listener's bug must not undo the send; its sweep tries again
            logger.exception("outbox: listener for message %s failed", message.pk)


# Guards: a workflow app that must not change a resource the EHR now holds differently (say, an
# Appointment that is not the one it booked) registers one in AppConfig.ready(). Called with the
# message and the resource just read, before each write; returns "" to go ahead, or why not.
Guard = Callable[[OutboxMessage, dict[str, Any]], str]
_guards: dict[str, list[Guard]] = {}


def outbox_guard_register(resource_type: str, guard: Guard) -> None:
    """Ask ``guard(message, current)`` before each update of a ``resource_type`` is written."""
    if guard not in _guards.setdefault(resource_type, []):
        _guards[resource_type].append(guard)


def _refusal(message: OutboxMessage, current: dict[str, Any]) -> str:
    for guard in _guards.get(message.resource_type, []):
        if reason := guard(message, current):
            return reason
    return ""


def _queue_send(message_id: int) -> None:
    from ..tasks.sync import outbox_send_task

    try:
        outbox_send_task.delay(message_id)
    except Exception:
        # The broker is down: the row is committed as pending; the relay sweeper sends it.
        logger.warning("outbox: could not queue message %s; the relay will pick it up", message_id)


def _due(now: datetime) -> Q:
    return Q(status__in=SENDABLE) & (
        Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, created_at__lte=now - STRANDED_AFTER)
    )


def outbox_due(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Ids of pending or failed messages of active sources whose attempt is due, oldest first."""
    now = now or timezone.now()
    return list(
        OutboxMessage.objects.filter(_due(now), source__is_active=True)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )


def _lease() -> timedelta:
    """Longer than a send can take: a token fetch, two reads and two writes, each timing out."""
    return timedelta(seconds=max(60.0, 6 * float(getattr(settings, "EHR_HTTP_TIMEOUT_SECONDS", 30))))


def _claim(message_id: int) -> OutboxMessage | None:
    """Count an attempt and lease the message, or None if it is not due, sent, or being sent."""
    now = timezone.now()
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("source")
            .filter(pk=message_id, status__in=SENDABLE)
            .first()
        )
        if message is None:
            return None
        # A new message (no attempt yet) is due at once; otherwise its time must have come.
        due = message.next_attempt_at is None or message.next_attempt_at <= now
        if not due or not message.source.is_active:
            return None
        # Compare-and-set on attempts as well as the lock: SQLite takes no row locks.
        claimed = OutboxMessage.objects.filter(pk=message.pk, attempts=message.attempts, status=message.status).update(
            attempts=message.attempts + 1, next_attempt_at=now + _lease()
        )
        if not claimed:
            return None
    message.attempts += 1
    return message


def outbox_send(*, message_id: int) -> OutboxMessage:
    """Send one due message to the EHR and record the outcome (sent, failed with a retry time,
    or dead). A message that is not due, already sent, or being sent is returned as it is.

    Call it outside a transaction (the task does): the EHR is called between two short ones.
    """
    message = _claim(message_id)
    if message is None:
        return OutboxMessage.objects.get(pk=message_id)
    body: dict[str, Any] = {}
    try:
        with client_for(message.source) as client:
            result = _deliver(client, message)
            body = result.body
    except Exception as exc:  # the EHR, the network, or a bug: the row must not stay leased
        _record_failure(message, exc)
    else:
        _record(
            message,
            status=Status.SENT,
            sent_at=timezone.now(),
            next_attempt_at=None,
            last_error="",
            response_status=result.status,
            response_version=(result.version_id or "")[:64],
            **({"resource_id": str(result.body["id"])[:128]} if _new_id(message, result) else {}),
        )
        logger.info("outbox: message %s sent (HTTP %s)", message.pk, result.status)
    message.refresh_from_db()
    _tell_listeners(message, body)
    return message


def _deliver(client: FhirClient, message: OutboxMessage) -> WriteResult:
    if message.operation == Operation.CREATE:
        resource = {**message.changes, "resourceType": message.resource_type}
        return client.create(resource, if_none_exist=_identifier_query(resource))
    for attempt in (1, 2):
        current, version = client.read_versioned(message.resource_type, message.resource_id)
        if reason := _refusal(message, current):
            raise OutboxRefused(f"Not sent: {reason}")
        if all(current.get(name) == value for name, value in message.changes.items()):
            # Already applied (a repeated send whose first result was not recorded): no new version.
            return WriteResult(200, current, version)
        updated = {**current, **message.changes, "resourceType": message.resource_type, "id": message.resource_id}
        try:
            return client.update(updated, if_match=version)
        except FhirHttpError as exc:
            if exc.status != 412:
                raise
            logger.info("outbox: message %s met a newer version (412, try %d); reading again", message.pk, attempt)
    raise _StillConflicting("The resource kept changing on the EHR (HTTP 412 twice); will retry.")


def _identifier_query(resource: dict[str, Any]) -> str | None:
    """``identifier=system|value`` of the first full identifier: a repeated create (whose first
    result was not recorded) then finds the resource instead of making a second one."""
    for identifier in resource.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") and identifier.get("value"):
            return urlencode({"identifier": f"{identifier['system']}|{identifier['value']}"})
    return None


def _new_id(message: OutboxMessage, result: WriteResult) -> bool:
    return message.operation == Operation.CREATE and not message.resource_id and bool(result.body.get("id"))


def _record_failure(message: OutboxMessage, exc: Exception) -> None:
    transient = getattr(exc, "transient", True) if isinstance(exc, FhirClientError) else True
    error = str(exc)
    if isinstance(exc, FhirHttpError) and exc.diagnostics:
        error = f"{error}: {exc.diagnostics}"  # what the EHR said; stored, never logged
    elif not isinstance(exc, FhirClientError):
        error = f"{exc.__class__.__name__}: {exc}"
    fields: dict[str, Any] = {"last_error": error[:4000], "response_status": getattr(exc, "status", None)}
    # Each attempt's cause is kept: last_error is cleared when a later attempt succeeds.
    failure = {"at": timezone.now().isoformat(), "attempt": message.attempts, "error": error[:2000]}
    fields["failures"] = [*(message.failures or []), failure][-MAX_FAILURES_KEPT:]
    if transient and message.attempts < max_attempts():
        fields |= {"status": Status.FAILED, "next_attempt_at": next_attempt_at(message.attempts)}
        logger.info("outbox: message %s failed (attempt %d, %s); will retry", message.pk, message.attempts, _kind(exc))
    else:
        fields |= {"status": Status.DEAD, "next_attempt_at": None}
        logger.warning("outbox: message %s dead after %d attempt(s) (%s)", message.pk, message.attempts, _kind(exc))
    if not isinstance(exc, FhirClientError):
        logger.error("outbox: message %s: unexpected %s", message.pk, exc.__class__.__name__, exc_info=exc)
    _record(message, **fields)


def _kind(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    return f"{exc.__class__.__name__}{f' HTTP {status}' if status else ''}"


def _record(message: OutboxMessage, **fields: Any) -> None:
    """Write a send's result, unless the message was claimed again or retried meanwhile."""
    with transaction.atomic():
        # update(), not save(): the row is written only if it is still this send's claim.
        written = OutboxMessage.objects.filter(pk=message.pk, attempts=message.attempts, status__in=SENDABLE).update(
            **fields
        )
    if not written:
        logger.warning("outbox: message %s changed while it was being sent; result not recorded", message.pk)


def outbox_retry(*, message_ids: list[int], by: User) -> int:
    """Put failed or dead messages back to pending with a fresh set of attempts and queue them
    after commit; the last error stays until the next attempt. Returns how many were queued."""
    if not by.has_perm(RETRY_PERMISSION):
        raise PermissionDenied("Only integration admins can retry EHR messages.")
    with transaction.atomic():
        ids = list(
            OutboxMessage.objects.select_for_update()
            .filter(id__in=list(message_ids), status__in=(Status.FAILED, Status.DEAD))
            .order_by("id")
            .values_list("id", flat=True)
        )
        OutboxMessage.objects.filter(id__in=ids).update(status=Status.PENDING, attempts=0, next_attempt_at=None)
        for pk in ids:
            transaction.on_commit(partial(_queue_send, pk))
    logger.info("outbox: user %s put %d message(s) back in line", getattr(by, "pk", None), len(ids))
    return len(ids)


def outbox_relay() -> int:
    """Queue every due message (the beat sweeper); returns how many."""
    ids = outbox_due()
    for pk in ids:
        _queue_send(pk)
    return len(ids)
