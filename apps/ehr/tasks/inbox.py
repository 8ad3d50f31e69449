"""Inbox processing tasks (see apps.ehr.services.inbox)."""

from celery import shared_task

__all__ = ["inbox_process_task", "inbox_sweep_task"]


@shared_task(name="ehr.inbox_process")
def inbox_process_task(message_ids: int | list[int]) -> int:
    """Apply inbox messages by id; safe to run twice (processed rows are skipped)."""
    from ..services.inbox import inbox_process

    ids = [message_ids] if isinstance(message_ids, int) else list(message_ids)
    return len(inbox_process(message_ids=ids))


@shared_task(name="ehr.inbox_sweep")
def inbox_sweep_task() -> int:
    """Beat: re-queue messages stranded in ``received`` and failures whose retry is due."""
    from ..services.inbox import inbox_sweep

    return inbox_sweep()
