"""``runserver`` plus the periodic tasks, in-process: the embedded default of ``make run``."""

from typing import Any

from django.core.management.commands.runserver import Command as RunserverCommand

from apps.core import embedded_beat


class Command(RunserverCommand):
    help = "Serve the app and run CELERY_BEAT_SCHEDULE in-process (embedded default, no broker)."

    def inner_run(self, *args: Any, **options: Any) -> None:
        # inner_run runs in the process that serves (the reloader's child), so exactly once.
        if embedded_beat.start() is not None:
            self.stdout.write("Periodic tasks (inbox sweep, SLA escalation, polling) run in this process.")
        super().inner_run(*args, **options)
