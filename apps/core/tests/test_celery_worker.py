"""A real Celery worker, started by the test, runs a task round trip through a real broker.

Redis and RabbitMQ run on 127.0.0.1 (CI starts them); without them these tests skip, and
with CLINOPS_REQUIRE_SERVICES=1 they fail instead.
"""

import os
import random

import pytest
from celery import Celery
from celery import _state as celery_state
from celery.contrib.testing.worker import start_worker

from tests.plugins.clinops import need_service

REDIS_URL = os.environ.get("CLINOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
AMQP_URL = os.environ.get("CLINOPS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def make_app(broker: str, backend: str) -> Celery:
    # A fresh app per broker, configured like clinops/celery.py: shared tasks (core.ping)
    # register on it as they do on the project's app.
    app = Celery("clinops-test", broker=broker, backend=backend, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_always_eager=False,
        broker_connection_retry_on_startup=False,
        worker_hijack_root_logger=False,
    )
    return app


@pytest.fixture
def _project_app_stays_current():
    """start_worker makes its app the current and default Celery app, and shared tasks resolve
    through the current app: without this, every later test's ``.delay()`` would go to this
    test's real broker instead of running eagerly in-process."""
    previous = celery_state.get_current_app()
    yield
    previous.set_current()
    previous.set_default()


@pytest.mark.parametrize(
    ("broker", "backend", "what"),
    [(REDIS_URL, REDIS_URL, "Redis"), (AMQP_URL, "rpc://", "RabbitMQ")],
    ids=["redis", "rabbitmq"],
)
def test_task_round_trip_through_a_real_broker(broker, backend, what, _project_app_stays_current):
    need_service(broker, what)
    import apps.core.tasks  # noqa: F401 - registers core.ping

    app = make_app(broker, backend)
    token = random.randint(1, 10**9)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=15, loglevel="WARNING"):
        result = app.tasks["core.ping"].apply_async(args=[token])
        answer = result.get(timeout=30)
    assert answer["token"] == token
    assert answer["host"]
