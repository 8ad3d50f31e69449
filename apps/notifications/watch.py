"""The EHR feed watch (a beat task): integration admins are told when dead letters pile up above
a threshold, or when a source that has been sending goes silent for N minutes. At most one
notification an hour while dead letters stay above the threshold (repeats are counted on it), and
one per silence (the key carries the last message's time)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from apps.core.events import EventKind, StaffEvent, event_emit
from apps.core.roles import Role
from apps.ehr.models import EhrSource
from apps.ehr.selectors import message_status_counts


def integration_watch(*, now: datetime | None = None) -> int:
    """Raise the dead-letter and silent-feed events that hold now; returns how many were raised."""
    now = now or timezone.now()
    raised = 0
    dead = sum(c.inbox.get("dead", 0) + c.outbox.get("dead", 0) for c in message_status_counts().values())
    if dead >= settings.NOTIFY_DEAD_LETTER_THRESHOLD:
        event_emit(
            StaffEvent(
                kind=EventKind.DEAD_LETTERS, title=f"{dead} EHR messages are dead letters and wait for a retry",
                link=reverse("ehr:console"), role=Role.INTEGRATION_ADMIN,
                dedupe_key=f"dead_letters:{now:%Y%m%d%H}",
            )
        )  # fmt: skip
        raised += 1
    silent_after = timedelta(minutes=settings.NOTIFY_FEED_SILENT_MINUTES)
    sources = EhrSource.objects.filter(is_active=True).annotate(last=Max("inbox_messages__received_at"))
    for source in sources:
        if source.last is not None and now - source.last >= silent_after:
            minutes = int((now - source.last).total_seconds() // 60)
            event_emit(
                StaffEvent(
                    kind=EventKind.FEED_SILENT,
                    title=f"The EHR feed “{source.name}” has sent nothing for {minutes} minutes",
                    link=reverse("ehr:console"), role=Role.INTEGRATION_ADMIN,
                    dedupe_key=f"feed_silent:{source.pk}:{source.last:%Y%m%d%H%M%S}",
                )
            )  # fmt: skip
            raised += 1
    return raised
