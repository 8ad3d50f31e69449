"""Check that the database answers and that a task makes the round trip through the broker."""

import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from apps.core.tasks import ping


class Command(BaseCommand):
    help = "Check the database and the Celery round trip (needs a running worker when a broker is set)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--timeout", type=float, default=10.0)

    def handle(self, *args: Any, **options: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        self.stdout.write(f"database: ok ({connection.vendor})")
        token = secrets.randbelow(10**9)
        try:
            answer = ping.delay(token).get(timeout=options["timeout"])
        except Exception as exc:
            raise CommandError(f"celery: no answer within {options['timeout']}s ({exc.__class__.__name__})") from exc
        if answer.get("token") != token:
            raise CommandError("celery: answered with the wrong token")
        mode = "in-process" if settings.CELERY_TASK_ALWAYS_EAGER else settings.CELERY_BROKER_URL.split("://")[0]
        self.stdout.write(f"celery: ok ({mode}, worker {answer['host']})")
