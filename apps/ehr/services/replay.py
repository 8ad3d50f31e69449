"""Retry and replay from the integration console: put failed and dead-lettered messages back
in line after the cause is fixed.

    inbox_retry   — chosen inbox messages (received, failed or dead) go back to ``received``
    inbox_replay  — every dead letter matching the console's filters goes back to ``received``
    outbox_retry  — chosen outbox messages; the outbox's own service does the work

A message put back gets a fresh set of attempts: ``attempts`` is reset to 0 (the pipeline
dead-letters at EHR_MAX_ATTEMPTS, so keeping the count would dead-letter it again after one
try). What it failed with stays in ``error_code``/``last_error`` until the next attempt
overwrites or clears them, and the log line keeps the previous attempt counts. Processing is
queued after commit, one task per message; the store's version guard makes re-applying a
version that was already applied a no-op, so replaying twice is harmless.

Inbox and outbox messages are excluded from django-auditlog (the inbox is its own history);
these actions are logged with ids and counts only, never patient data.
"""

import logging
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet

from apps.core.models import User

from ..models import InboxMessage
from ..selectors import inbox_filter

logger = logging.getLogger(__name__)
Status = InboxMessage.Status
RETRYABLE = (Status.RECEIVED, Status.FAILED, Status.DEAD)
PERMISSION = "core.administer_integrations"


def _ensure_can(by: User) -> None:
    if not by.has_perm(PERMISSION):
        raise PermissionDenied("Only integration admins can retry or replay EHR messages.")


def _queue_processing(message_id: int) -> None:
    from ..tasks.inbox import inbox_process_task

    try:
        inbox_process_task.delay(message_id)
    except Exception:
        # The broker is down: the row is committed in ``received``, so the sweeper picks it up.
        # Raising here would turn a committed retry into an error page and skip the other ids.
        logger.warning("inbox: could not queue message %s; the sweeper will pick it up", message_id)


def _requeue(queryset: QuerySet[InboxMessage], *, by: User, action: str) -> int:
    with transaction.atomic():
        rows = list(queryset.select_for_update().order_by("id").values_list("id", "attempts"))
        ids = [pk for pk, _ in rows]
        InboxMessage.objects.filter(id__in=ids).update(status=Status.RECEIVED, attempts=0, next_attempt_at=None)
        for pk in ids:
            transaction.on_commit(partial(_queue_processing, pk))
    logger.info(
        "inbox: user %s %s %d message(s) ids=%s previous_attempts=%s",
        by.pk,
        action,
        len(ids),
        _ids_for_log(ids),
        _ids_for_log(attempts for _, attempts in rows),
    )
    return len(ids)


def _ids_for_log(values: Iterable[int], limit: int = 50) -> str:
    values = list(values)
    more = f"…(+{len(values) - limit})" if len(values) > limit else ""
    return ",".join(str(v) for v in values[:limit]) + more


def inbox_retry(*, message_ids: list[int], by: User) -> int:
    """Put the chosen received/failed/dead inbox messages back to ``received`` with a fresh set
    of attempts and queue their processing after commit; processed ones are left alone.
    Returns how many were queued."""
    _ensure_can(by)
    queryset = InboxMessage.objects.filter(id__in=list(message_ids), status__in=RETRYABLE)
    return _requeue(queryset, by=by, action="retried")


def inbox_replay(*, filters: Mapping[str, Any], by: User) -> int:
    """Replay every dead letter matching the console filters (a status filter other than
    "dead" matches none): back to ``received``, processing queued after commit. Idempotent:
    a second replay finds them no longer dead. Returns how many were queued."""
    _ensure_can(by)
    queryset = inbox_filter(filters=filters).filter(status=Status.DEAD)
    return _requeue(queryset, by=by, action="replayed")


def outbox_retry(*, message_ids: list[int], by: User) -> int:
    """Retry the chosen outbox messages through the outbox's own service (imported lazily:
    it is apps.ehr.services.outbox.outbox_retry). Returns how many were queued."""
    _ensure_can(by)
    from .outbox import outbox_retry as retry

    result = retry(message_ids=list(message_ids), by=by)
    count = result if isinstance(result, int) else len(result)
    logger.info("outbox: user %s retried %d message(s) ids=%s", by.pk, count, _ids_for_log(message_ids))
    return count
