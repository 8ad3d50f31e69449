"""What every delivery row shares (staff emails, patient messages): which are due, claiming one
with a lease so two workers never send it at once, and recording the result with backoff.

A claim takes the row in a short transaction (``SKIP LOCKED``), counts the attempt and pushes
``next_attempt_at`` past the longest a send can take; the send happens outside any transaction;
the result is written only if ``attempts`` is still what this claim counted (else someone took it
over after the lease ran out). A permanent failure, or the last attempt, is "dead"."""

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.models import User
from apps.ehr.retry import max_attempts, next_attempt_at

PENDING, SENT, FAILED, DEAD = "pending", "sent", "failed", "dead"
SENDABLE = (PENDING, FAILED)
STRANDED_AFTER = timedelta(seconds=60)
LEASE = timedelta(seconds=120)  # longer than an SMTP or SMS send can take (their timeouts)
MAX_FAILURES_KEPT = 20

Row = TypeVar("Row", bound=models.Model)


def delivery_due(model: type[models.Model], *, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Ids of pending or failed rows whose attempt is due (a stranded pending one included), oldest first."""
    now = now or timezone.now()
    due = Q(status__in=SENDABLE) & (
        Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, created_at__lte=now - STRANDED_AFTER)
    )
    return list(model._default_manager.filter(due).order_by("id").values_list("id", flat=True)[:limit])


def delivery_claim(model: type[Row], row_id: int, *, related: tuple[str, ...] = ()) -> Row | None:
    """Lease a sendable, due row for one attempt (None: sent, not due, or someone else has it)."""
    now = timezone.now()
    with transaction.atomic():
        row: Any = (
            model._default_manager.select_for_update(skip_locked=True, of=("self",))
            .select_related(*related)
            .filter(pk=row_id, status__in=SENDABLE)
            .first()
        )
        if row is None or (row.next_attempt_at is not None and row.next_attempt_at > now):
            return None
        row.attempts += 1
        row.next_attempt_at = now + LEASE  # a crashed send is picked up after it
        row.save(update_fields=["attempts", "next_attempt_at"])
    return row


@transaction.atomic
def delivery_record(
    model: type[Row], row_id: int, claimed: int, *, error: str = "", permanent: bool = False, **sent: Any
) -> tuple[Row, bool]:
    """Write a claimed attempt's result; returns the row and whether this call changed it."""
    row: Any = model._default_manager.select_for_update().get(pk=row_id)
    if row.attempts != claimed or row.status not in SENDABLE:
        return row, False
    now = timezone.now()
    if not error:
        row.status, row.sent_at, row.last_error, row.next_attempt_at = SENT, now, "", None
        for name, value in sent.items():
            setattr(row, name, value)
    else:
        row.last_error = error
        row.failures = [*row.failures, {"at": now.isoformat(), "attempt": claimed, "error": error}][-MAX_FAILURES_KEPT:]
        if permanent or claimed >= max_attempts():
            row.status, row.next_attempt_at = DEAD, None
        else:
            row.status, row.next_attempt_at = FAILED, next_attempt_at(claimed, now=now)
    row.save()
    return row, True


@transaction.atomic
def delivery_retry(model: type[models.Model], row_ids: list[int], *, by: User, queue: Callable[[int], None]) -> int:
    """Put failed or dead rows back in line now (integration admins); sent ones stay sent."""
    if not by.has_perm("core.administer_integrations"):
        raise PermissionDenied
    rows: list[Any] = list(model._default_manager.select_for_update().filter(pk__in=row_ids, status__in=(FAILED, DEAD)))
    for row in rows:
        row.status, row.next_attempt_at, row.attempts = PENDING, None, 0
        row.save(update_fields=["status", "next_attempt_at", "attempts"])
        transaction.on_commit(partial(queue, row.pk))
    return len(rows)
