from celery import shared_task


@shared_task(name="terminology.activate_due")
def activate_due_task() -> int:
    """Beat: activate approved concept map versions whose scheduled time has come."""
    from .services import versions_activate_due

    return versions_activate_due()
