import pytest

from apps.core.embedded_beat import due_entries, run_entry


def test_entries_run_when_their_interval_has_passed():
    schedule = {"sweep": {"task": "a", "schedule": 30.0}, "sla": {"task": "b", "schedule": 60.0}}
    last = {"sweep": 100.0, "sla": 100.0}
    assert due_entries(schedule, last, 120.0) == []
    assert due_entries(schedule, last, 130.0) == ["sweep"]
    assert due_entries(schedule, last, 160.0) == ["sweep", "sla"]
    assert due_entries(schedule, {}, 0.0) == ["sweep", "sla"]


@pytest.mark.django_db
def test_a_failing_task_is_logged_and_does_not_stop_the_loop():
    from unittest import mock

    def boom(task):
        raise RuntimeError("db locked")

    with mock.patch("apps.core.embedded_beat.logger") as logger:
        run_entry("sweep", {"task": "ehr.inbox_sweep", "schedule": 30}, apply=boom)  # does not raise
    logger.exception.assert_called_once_with("embedded beat: %s failed", "sweep")


def test_every_scheduled_task_exists(settings):
    # In a fresh interpreter, as a worker or beat starts (other tests start Celery apps of their own).
    import json
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import django, json; django.setup(); from clinops.celery import app; "
        "app.autodiscover_tasks(force=True); print(json.dumps(sorted(app.tasks)))"
    )
    env = {"DJANGO_SETTINGS_MODULE": "clinops.settings.test", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[3], env=env, capture_output=True, text=True
    )
    registered = set(json.loads(out.stdout.strip().splitlines()[-1]))
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in registered, name


def test_the_web_process_knows_every_scheduled_task_before_the_beat_starts():
    # `manage.py serve` never starts a worker, so nothing triggers Celery's lazy autodiscovery:
    # without tasks_load() the SLA sweep and the terminology activation failed every minute.
    import json
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import django, json; django.setup(); from clinops.celery import app; "
        "from apps.core.embedded_beat import tasks_load; missing = tasks_load(); "
        "print(json.dumps([missing, sorted(app.tasks)]))"
    )
    env = {"DJANGO_SETTINGS_MODULE": "clinops.settings.test", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[3], env=env, capture_output=True, text=True
    )
    missing, known = json.loads(out.stdout.strip().splitlines()[-1])
    assert missing == [] and {"workflow.sla_sweep", "terminology.activate_due"} <= set(known)
