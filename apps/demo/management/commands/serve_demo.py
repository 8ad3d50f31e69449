"""``make run``: ``serve`` (runserver + the periodic tasks in-process) plus the demo's gentle
live feed, which posts new simulated EHR events to this server's own webhook."""

import os
import threading
import time
from typing import Any

from django.conf import settings
from django.db import connection

from apps.core.management.commands.serve import Command as ServeCommand
from apps.demo.live import LiveFeed, first_page_wait, ready_line, wait_for_port
from apps.demo.management.commands.simulate_ehr import parse_rate


class Command(ServeCommand):
    help = "Serve the app with the periodic tasks and a gentle simulated EHR feed through the webhook."

    port: str  # set by runserver from the address argument

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.add_argument("--feed-rate", default="15/m", help="Live feed resources per second/minute (15/m); 0: off")

    def inner_run(self, *args: Any, **options: Any) -> None:
        # inner_run runs in the process that serves (the reloader's child), so the feed runs once.
        per_second = parse_rate(options.get("feed_rate") or "0")
        if per_second > 0:
            LiveFeed(base_url=f"http://127.0.0.1:{self.port}", per_second=per_second).start()
            self.stdout.write(f"A simulated EHR posts {per_second * 60:g} resources a minute to the webhook.")
        threading.Thread(target=self._announce_ready, name="demo-ready", daemon=True).start()
        if settings.DEBUG:
            threading.Thread(target=self._connect_ehr, name="demo-ehr-connect", daemon=True).start()
        super().inner_run(*args, **options)

    def _announce_ready(self) -> None:
        """Say when the sign-in page answers; make run passes its start time (CLINOPS_RUN_STARTED)."""
        from django.urls import reverse

        url = f"http://127.0.0.1:{self.port}/"
        if first_page_wait(url.rstrip("/") + reverse("login")):
            started = os.environ.get("CLINOPS_RUN_STARTED", "")
            self.stdout.write(ready_line(url, started=float(started) if started else None, now=time.time()))

    def _connect_ehr(self) -> None:
        """Once the server answers, send the demo's Task write-backs to the simulated EHR's endpoint."""
        from apps.demo.setup import demo_ehr_connect

        if not wait_for_port("127.0.0.1", int(self.port)):
            return
        try:
            queued = demo_ehr_connect(base_url=f"http://127.0.0.1:{self.port}/demo-ehr/fhir")
            if queued:
                self.stdout.write(f"Sent {queued:,} referral Task updates to the simulated EHR (integration → Outbox).")
            from apps.demo.schedule import demo_slots_publish

            published = demo_slots_publish()
            if published:
                self.stdout.write(f"The simulated EHR published {published:,} schedules and free slots to book.")
        finally:
            connection.close()
