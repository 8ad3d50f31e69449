"""Retry policy shared by the inbox and the outbox: exponential backoff with jitter, then a
dead letter. Settings: EHR_MAX_ATTEMPTS, EHR_RETRY_BASE_SECONDS, EHR_RETRY_MAX_SECONDS."""

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone


def max_attempts() -> int:
    return int(getattr(settings, "EHR_MAX_ATTEMPTS", 5))


def next_attempt_at(attempts: int, *, now: datetime | None = None) -> datetime:
    """When attempt ``attempts + 1`` may run: base·2^(attempts-1), capped, ±20 % jitter."""
    base = float(getattr(settings, "EHR_RETRY_BASE_SECONDS", 30))
    cap = float(getattr(settings, "EHR_RETRY_MAX_SECONDS", 3600))
    delay = min(base * 2 ** max(attempts - 1, 0), cap) * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not crypto
    return (now or timezone.now()) + timedelta(seconds=delay)
