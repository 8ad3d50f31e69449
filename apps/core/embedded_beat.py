"""Periodic tasks for the embedded default: with no broker there is no ``celery beat``, so
``manage.py serve`` runs CELERY_BEAT_SCHEDULE in a background thread of the web process.
Production runs ``celery -A clinops beat`` instead (README.md)."""

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)


def due_entries(schedule: dict[str, dict], last_run: dict[str, float], now: float) -> list[str]:
    """Names of the entries whose interval (seconds) has passed since they last ran."""
    return [name for name, entry in schedule.items() if now - last_run.get(name, float("-inf")) >= entry["schedule"]]


def run_entry(name: str, entry: dict, *, apply: Callable[[str], object] | None = None) -> None:
    """Run one periodic task in this process; a failure is logged and the loop goes on."""
    try:
        if apply is not None:
            apply(entry["task"])
        else:
            from clinops.celery import app

            app.tasks[entry["task"]].apply(throw=True)
    except Exception:
        logger.exception("embedded beat: %s failed", name)
    finally:
        close_old_connections()


def tasks_load() -> list[str]:
    """Import every app's ``tasks`` module (Celery's autodiscovery is lazy and only a worker
    triggers it, so a web process would not know e.g. ``workflow.sla_sweep``); returns the
    scheduled task names that are still unknown."""
    from clinops.celery import app

    app.loader.import_default_modules()
    return [str(entry["task"]) for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] not in app.tasks]


def start(*, interval: float = 1.0) -> threading.Thread | None:
    """Start the in-process scheduler (only on the embedded default: no broker configured)."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    for missing in tasks_load():
        logger.error("embedded beat: scheduled task %s does not exist and will not run", missing)
    schedule = {
        name: entry
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if isinstance(entry["schedule"], int | float)
    }
    last_run: dict[str, float] = {name: time.monotonic() for name in schedule}  # first runs after one interval

    def loop() -> None:
        while True:
            now = time.monotonic()
            for name in due_entries(schedule, last_run, now):
                last_run[name] = now
                run_entry(name, schedule[name])
            time.sleep(interval)

    thread = threading.Thread(target=loop, name="clinops-embedded-beat", daemon=True)
    thread.start()
    logger.info("embedded beat: %d periodic task(s) running in-process", len(schedule))
    return thread
