"""The unmapped-codes queue: ingestion records what it could not translate."""

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ..models import UnmappedCode


def unmapped_record(system: str, code: str, display: str = "", example: str = "") -> UnmappedCode:
    """Count one sighting of a code with no active mapping (count+1, last seen, example).

    Safe under concurrency: the first sighting inserts, a racing one falls back to the
    increment. Idempotent for a retried message: the same ``example`` (e.g. "inbox:123")
    recorded again in a row changes nothing. A resolved code seen again is reopened.

    The increment is an UPDATE with F(), so django-auditlog does not log every sighting (the
    count is telemetry, and the inbox keeps the messages); the first sighting and the
    resolution are logged.
    """
    system, code = system[:255], code[:128]
    display, example = display[:255], example[:200]
    now = timezone.now()
    with transaction.atomic():
        rows = UnmappedCode.objects.filter(system=system, code=code)
        if example:
            if rows.filter(example=example).exists():
                return rows.get()
            rows = rows.exclude(example=example)
        changes = {"count": F("count") + 1, "last_seen": now, "resolved_at": None, "resolved_by_version": None}
        if example:
            changes["example"] = example
        if display:
            changes["display"] = display
        if not rows.update(**changes):
            try:
                with transaction.atomic():  # a savepoint: a racing insert must not break the caller's transaction
                    UnmappedCode(
                        system=system, code=code, display=display, example=example, first_seen=now, last_seen=now
                    ).save()
            except IntegrityError:
                racing = UnmappedCode.objects.filter(system=system, code=code)
                (racing.exclude(example=example) if example else racing).update(**changes)
    return UnmappedCode.objects.get(system=system, code=code)
