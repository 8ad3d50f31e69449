"""Enhanced-mode application ACKs (MSH-16) sent back to the sender over an outbound MLLP connection.

    hl7_app_ack_enqueue — in the message's transaction: store the application ACK MSH-16 asks
                          for (AL always, ER on AE/AR, SU on AA, NE or empty never); send after commit
    hl7_app_ack_send    — claim a due ACK, send it outside any transaction, record the answer
    hl7_app_ack_relay   — queue every due ACK (beat)
    hl7_app_ack_retry   — put a failed or dead ACK back in line (integration console)

The ACK goes to the source's ``mllp_ack_host``/``mllp_ack_port``; it asks for an accept ACK
(MSH-15 AL), and the sender's CA (or AA) marks it sent. No answer, a closed connection or CE/AE
is retried with the inbox's backoff (apps.ehr.retry); CR/AR, a source with no address, or the
last attempt make it dead, shown in the console with what to do. Claiming is the outbox's: a short
transaction counts the attempt and leases the row, then the network, then a short write.
"""

import logging
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.models import User

from ..models import Hl7AppAck, Hl7Message
from ..retry import max_attempts, next_attempt_at
from ..v2.ack import AckProblem, ack_build
from ..v2.message import Header
from ..v2.mllp import mllp_exchange

logger = logging.getLogger(__name__)
Status = Hl7AppAck.Status
SENDABLE = (Status.PENDING, Status.FAILED)
STRANDED_AFTER = timedelta(seconds=60)
RETRY_PERMISSION = "core.administer_integrations"


class _Refused(Exception):
    """The sender answered CR/AR: sending it again will not help."""


class _NoAddress(Exception):
    """The source has no application-ACK address: an integration admin must set one."""


def app_ack_wanted(condition: str, app_code: str) -> bool:
    """Whether MSH-16 (table 0155) asks for the application ACK ``app_code``."""
    if condition == "AL":
        return True
    if condition == "ER":
        return app_code != "AA"
    if condition == "SU":
        return app_code == "AA"
    return False  # NE, or empty: nothing asked for


def hl7_app_ack_enqueue(
    *, message: Hl7Message, header: Header, app_code: str, problem: AckProblem | None
) -> Hl7AppAck | None:
    """Store the application ACK of a stored message if its MSH-16 asks for it (no I/O);
    its send is queued after commit."""
    if not header.enhanced or not app_ack_wanted(header.app_ack, app_code):
        return None
    row = Hl7AppAck.objects.create(
        message=message,
        source_id=message.source_id,
        ack=ack_build(header, app_code, problem, ask_accept=True),
        ack_code=app_code,
        charset=message.charset,
    )
    transaction.on_commit(partial(_queue_send, row.pk))
    return row


def _queue_send(ack_id: int) -> None:
    from ..tasks.v2 import hl7_app_ack_send_task

    try:
        hl7_app_ack_send_task.delay(ack_id)
    except Exception:
        logger.warning("hl7 app ack %s: could not queue; the relay will pick it up", ack_id)


def _timeout() -> float:
    return float(getattr(settings, "EHR_V2_ACK_TIMEOUT_SECONDS", 10))


def _claim(ack_id: int) -> Hl7AppAck | None:
    """Count an attempt and lease the row, or None if it is not due, sent, or being sent."""
    now = timezone.now()
    with transaction.atomic():
        row = (
            Hl7AppAck.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("source")
            .filter(pk=ack_id, status__in=SENDABLE)
            .first()
        )
        if row is None or (row.next_attempt_at is not None and row.next_attempt_at > now):
            return None
        # Compare-and-set on attempts as well as the lock: SQLite takes no row locks.
        lease = now + timedelta(seconds=3 * _timeout() + 30)
        if not Hl7AppAck.objects.filter(pk=row.pk, attempts=row.attempts, status=row.status).update(
            attempts=row.attempts + 1, next_attempt_at=lease
        ):
            return None
    row.attempts += 1
    return row


def hl7_app_ack_send(*, ack_id: int) -> Hl7AppAck:
    """Send one due application ACK to its source and record the answer. Call it outside a
    transaction (the task does); one not due, sent or being sent is returned as it is."""
    row = _claim(ack_id)
    if row is None:
        return Hl7AppAck.objects.get(pk=ack_id)
    source = row.source
    destination = f"{source.mllp_ack_host}:{source.mllp_ack_port}" if source.mllp_ack_host else ""
    try:
        if not source.mllp_ack_host or not source.mllp_ack_port:
            raise _NoAddress(
                "The source has no address for application acknowledgments: an integration admin sets "
                "its MLLP acknowledgment host and port in the admin, then sends it again here."
            )
        answer = mllp_exchange(
            source.mllp_ack_host, source.mllp_ack_port, row.ack.encode(row.charset or "utf-8", "replace"),
            timeout=_timeout(),
        )  # fmt: skip
        reply = _reply_code(answer)
        if reply in ("CR", "AR"):
            raise _Refused(f"The sender refused it ({reply}).")
        if reply not in ("CA", "AA"):
            raise ConnectionError(f"The sender answered {reply or 'something that is not an ACK'}.")
    except Exception as exc:
        _record_failure(row, exc, destination)
    else:
        _record(row, status=Status.SENT, sent_at=timezone.now(), next_attempt_at=None, last_error="",
                reply_code=reply, destination=destination)  # fmt: skip
        logger.info("hl7 app ack %s sent (%s)", row.pk, reply)
    row.refresh_from_db()
    return row


def _reply_code(answer: bytes) -> str:
    """MSA-1 of the sender's answer ('' when it has none)."""
    text = answer.decode("latin-1")
    field_sep = text[3:4] if text.startswith("MSH") else "|"
    for segment in text.replace("\n", "\r").split("\r"):
        if segment.startswith("MSA" + field_sep):
            return segment.split(field_sep)[1].strip()[:2].upper()
    return ""


def _record_failure(row: Hl7AppAck, exc: Exception, destination: str) -> None:
    final = isinstance(exc, (_Refused, _NoAddress)) or row.attempts >= max_attempts()
    error = str(exc) if isinstance(exc, (_Refused, _NoAddress)) else f"{exc.__class__.__name__}: {exc}"
    fields: dict[str, Any] = {"last_error": error[:2000], "destination": destination}
    if final:
        fields |= {"status": Status.DEAD, "next_attempt_at": None}
        logger.warning("hl7 app ack %s not sent after %d attempt(s) (%s)", row.pk, row.attempts, type(exc).__name__)
    else:
        fields |= {"status": Status.FAILED, "next_attempt_at": next_attempt_at(row.attempts)}
        logger.info("hl7 app ack %s failed (attempt %d, %s); will retry", row.pk, row.attempts, type(exc).__name__)
    _record(row, **fields)


def _record(row: Hl7AppAck, **fields: Any) -> None:
    """Write a send's result, unless the row was claimed again or put back in line meanwhile."""
    with transaction.atomic():
        written = Hl7AppAck.objects.filter(pk=row.pk, attempts=row.attempts, status__in=SENDABLE).update(**fields)
    if not written:
        logger.warning("hl7 app ack %s changed while it was being sent; result not recorded", row.pk)


def hl7_app_ack_due(*, limit: int = 1000) -> list[int]:
    """Ids of pending or failed application ACKs of active sources whose attempt is due."""
    now = timezone.now()
    due = Q(status__in=SENDABLE) & (
        Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, created_at__lte=now - STRANDED_AFTER)
    )
    rows = Hl7AppAck.objects.filter(due, source__is_active=True).order_by("id")
    return list(rows.values_list("id", flat=True)[:limit])


def hl7_app_ack_relay() -> int:
    """Queue every due application ACK (the beat sweeper); returns how many."""
    ids = hl7_app_ack_due()
    for pk in ids:
        _queue_send(pk)
    return len(ids)


def hl7_app_ack_retry(*, ack_id: int, by: User) -> bool:
    """Put a failed or dead application ACK back in line with fresh attempts, sent after commit."""
    if not by.has_perm(RETRY_PERMISSION):
        raise PermissionDenied("Only integration admins can send acknowledgments again.")
    with transaction.atomic():
        found = Hl7AppAck.objects.filter(pk=ack_id, status__in=(Status.FAILED, Status.DEAD)).update(
            status=Status.PENDING, attempts=0, next_attempt_at=None
        )
        if found:
            transaction.on_commit(partial(_queue_send, ack_id))
    logger.info("hl7 app ack %s put back in line by user %s", ack_id, getattr(by, "pk", None))
    return bool(found)
