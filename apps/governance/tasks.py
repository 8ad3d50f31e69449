from datetime import timedelta

from celery import shared_task
from django.utils import timezone

DETECT_WINDOW = timedelta(days=63)  # the workarounds page shows eight weeks


@shared_task(name="governance.workarounds_detect")
def workarounds_detect_task() -> int:
    """Beat, nightly: run the workaround rules over the last weeks (new flags only; idempotent)."""
    from .workarounds import workarounds_detect

    now = timezone.now()
    return workarounds_detect(since=now - DETECT_WINDOW, until=now)
