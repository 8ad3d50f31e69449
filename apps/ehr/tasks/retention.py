"""Retention task (see apps.ehr.services.retention): beat runs it once a day."""

from celery import shared_task

__all__ = ["retention_prune_task"]


@shared_task(name="ehr.retention_prune")
def retention_prune_task() -> int:
    """Beat: prune processed payloads past each source's retention; returns the messages removed."""
    from ..services.retention import retention_prune

    return sum(run.messages_removed for run in retention_prune())
