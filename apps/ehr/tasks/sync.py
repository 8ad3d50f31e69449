"""Polling and outbox relay tasks (see apps.ehr.services.polling and .outbox): thin, take ids,
return counts. Their retry policy lives in the rows (PollCursor, OutboxMessage), not in Celery."""

import logging

from celery import shared_task

__all__ = ["outbox_relay_task", "outbox_send_task", "source_poll_task", "sources_poll_due_task"]

logger = logging.getLogger(__name__)

# A pass can page through a large backlog or wait for a Bulk export (bounded at 30 minutes),
# longer than the default task limit.
POLL_SOFT_TIME_LIMIT = 3300
POLL_TIME_LIMIT = 3600


@shared_task(name="ehr.source_poll", soft_time_limit=POLL_SOFT_TIME_LIMIT, time_limit=POLL_TIME_LIMIT)
def source_poll_task(source_id: int) -> dict:
    """One polling pass over a source; a crash or time-out re-reads, never skips (see the service)."""
    from ..services.polling import source_poll

    return source_poll(source_id=source_id).as_json()


@shared_task(name="ehr.sources_poll_due")
def sources_poll_due_task() -> int:
    """Beat: queue a pass for every active polling source whose interval has passed."""
    from ..services.polling import sources_due_for_poll

    ids = sources_due_for_poll()
    for source_id in ids:
        source_poll_task.delay(source_id)
    return len(ids)


@shared_task(name="ehr.outbox_send")
def outbox_send_task(message_id: int) -> str:
    """Send one outbox message; safe to run twice (a sent or claimed message is left alone)."""
    from ..models import OutboxMessage
    from ..services.outbox import outbox_send

    try:
        return outbox_send(message_id=message_id).status
    except OutboxMessage.DoesNotExist:
        logger.warning("outbox: message %s no longer exists", message_id)
        return "missing"


@shared_task(name="ehr.outbox_relay")
def outbox_relay_task() -> int:
    """Beat: queue every outbox message whose (next) attempt is due."""
    from ..services.outbox import outbox_relay

    return outbox_relay()
