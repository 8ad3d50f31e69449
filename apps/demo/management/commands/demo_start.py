"""``make run``'s first start: load the demo's simulated history once (with a progress bar).

    manage.py demo_start              # 90 days at a modest volume, only if the demo source is empty
    manage.py demo_start --days 30

On a database whose demo EHR source has received anything, it does nothing: a second start
duplicates nothing. Needs DEBUG (it is demo data, like seed_demo).
"""

import logging
import sys
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from apps.demo.history import history_load
from apps.ehr.models import InboxMessage, OutboxMessage
from apps.notifications.reminders import patient_reminders_plan

SOURCE = "demo-ehr"
BAR = 30
# One line per Celery task and per undeliverable Task write-back would bury the progress bar;
# the count of the latter is reported at the end instead.
QUIET_LOGGERS = ["celery.app.trace", "apps.ehr.services.outbox", "kombu.connection"]


@contextmanager
def unsynced_sqlite():
    """On the embedded SQLite, skip the fsync after each of the load's thousands of small commits
    (three times faster). Only an OS crash or power loss during the load could then damage the
    demo database (delete db.sqlite3 and start again); restored afterwards; other databases untouched."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:  # (a test's transaction)
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        (previous,) = cursor.fetchone()
        cursor.execute("PRAGMA synchronous = OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA synchronous = {int(previous)}")


@contextmanager
def quiet(names: list[str]):
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class Command(BaseCommand):
    help = "Load the demo's simulated EHR history on first start (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--days", type=float, default=90, help="Days of history (90)")
        parser.add_argument("--seed", type=int, default=1, help="Seed of the simulated EHR (1)")
        parser.add_argument("--allow-production", action="store_true", help="Load even with DEBUG off.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError("The demo history is made-up patient data; refusing with DEBUG off.")
        if options["days"] <= 0:
            raise CommandError("--days must be more than 0.")
        received = InboxMessage.objects.filter(source__name=SOURCE).count()
        if received:
            self.stdout.write(f"Demo history: kept ({received:,} messages from {SOURCE} already received).")
            return
        self.stdout.write(f"Demo history: simulating {options['days']:g} days of {SOURCE} (first start only)…")
        with quiet(QUIET_LOGGERS), unsynced_sqlite():
            report = history_load(source_name=SOURCE, days=options["days"], seed=options["seed"], progress=self._bar)
        sys.stderr.write("\n")
        actions = sum(report.staff.values())
        self.stdout.write(
            f"Demo history: {report.resources:,} resources imported, {actions:,} staff actions, "
            f"{report.failed} failed, in {report.seconds:.1f}s."
        )
        unsent = OutboxMessage.objects.filter(source__name=SOURCE).exclude(status=OutboxMessage.Status.SENT).count()
        if unsent:
            self.stdout.write(
                f"  {unsent:,} referral Task updates for {SOURCE} wait in the outbox: serve_demo sends them to the "
                "simulated EHR's Task endpoint once it is up (integration console → Outbox)."
            )
        for error in report.errors[:10]:
            self.stdout.write(self.style.ERROR(f"  {error}"))
        with quiet(QUIET_LOGGERS):
            reminders = patient_reminders_plan()
        self.stdout.write(
            f"Patient reminders: {reminders} queued for visits in the next days (the console email and text "
            "backends print them; the beat plans more every 5 minutes)."
        )

    def _bar(self, done: int, total: int) -> None:
        percent = 100 * done // total
        if percent == getattr(self, "_percent", None):
            return
        self._percent = percent
        filled = BAR * done // total
        sys.stderr.write(f"\r  [{'#' * filled}{'.' * (BAR - filled)}] {percent:3d}%")
        sys.stderr.flush()
