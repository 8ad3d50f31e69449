"""Ingestion holds its rules whatever the order and however often messages arrive.

- Any order of versions of one resource (some delivered twice): the newest is stored, and
  no version is counted twice; a later delete marks it deleted and an older version after the
  delete does not bring it back (hypothesis, through inbox_receive + inbox_process; the versions
  arrive one per delivery or all in one Bundle, i.e. one processing batch).
- On PostgreSQL, 8 threads posting the same message at once leave one inbox row and one store
  row; 8 threads posting 8 versions at once leave the newest.
"""

import copy
import itertools
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import _state as celery_state
from django.db import connection
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.ehr.models import STORE_MODELS, InboxMessage, Patient
from apps.ehr.services.inbox import inbox_process, inbox_receive
from apps.ehr.services.sources import source_upsert

FIXTURES = Path(__file__).parent / "fixtures" / "hl7"
# Official examples of types without workflow handlers and with no meta of their own.
BASES = [
    json.loads((FIXTURES / name).read_text())
    for name in ("Patient-example.json", "Observation-example.json", "Practitioner-example.json")
]
T0 = datetime(2025, 1, 1, tzinfo=UTC)
_ids = itertools.count(1)


def version(base: dict[str, Any], resource_id: str, n: int) -> dict[str, Any]:
    """Version ``n`` of ``base`` under ``resource_id``: versionId n, lastUpdated n minutes after T0."""
    resource = copy.deepcopy(base)
    resource["id"] = resource_id
    resource["meta"] = {"versionId": str(n), "lastUpdated": (T0 + timedelta(minutes=n)).isoformat()}
    resource.setdefault("extension", []).append({"url": "urn:test:version", "valueInteger": n})
    return resource


def delete(resource_type: str, resource_id: str, n: int) -> dict[str, Any]:
    """A history Bundle saying the resource was deleted as version ``n``."""
    return {
        "resourceType": "Bundle",
        "type": "history",
        "entry": [
            {
                "request": {"method": "DELETE", "url": f"{resource_type}/{resource_id}"},
                "response": {
                    "status": "204",
                    "etag": f'W/"{n}"',
                    "lastModified": (T0 + timedelta(minutes=n)).isoformat(),
                },
            }
        ],
    }


def deliver(source, body: dict[str, Any]) -> list[InboxMessage]:
    """Receive a body as the webhook does, then process what it stored."""
    receipt = inbox_receive(source=source, body=body, channel=InboxMessage.Channel.WEBHOOK, process=False)
    return inbox_process(message_ids=receipt.new_ids)


@st.composite
def deliveries(draw) -> tuple[list[int], list[int]]:
    """(the versions, the order they arrive in): 3–6 versions, numbered 2, 4, 6, … so that an odd
    number is an older version never sent; a random permutation, some sent twice."""
    versions = [2 * n for n in range(1, draw(st.integers(min_value=3, max_value=6)) + 1)]
    order = draw(st.permutations(versions))
    for repeat in draw(st.lists(st.sampled_from(versions), max_size=4)):
        order.insert(draw(st.integers(min_value=0, max_value=len(order))), repeat)
    return versions, order


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    base=st.sampled_from(BASES),
    delivery=deliveries(),
    late=st.integers(min_value=1, max_value=6),
    together=st.booleans(),
)
def test_any_order_of_versions_stores_the_newest_and_a_delete_is_final(ehr_source, base, delivery, late, together):
    """``together``: every delivery in one Bundle (one batch), else one delivery each."""
    versions, order = delivery
    newest, stale = max(versions), 2 * min(late, len(versions)) - 1  # stale: odd, older than newest
    rtype, rid = base["resourceType"], f"prop-{next(_ids)}"  # a resource of its own per example
    model = STORE_MODELS[rtype]
    if together:
        bundle = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": version(base, rid, n)} for n in order],
        }
        results = deliver(ehr_source, bundle)
    else:
        results = [message for n in order for message in deliver(ehr_source, version(base, rid, n))]
    assert {(m.status, m.last_error) for m in results} == {(InboxMessage.Status.PROCESSED, "")}
    assert sorted(m.outcome for m in results).count("new") == 1
    assert InboxMessage.objects.filter(resource_id=rid).count() == len(versions)  # duplicates stored once

    row = model.objects.get(source=ehr_source, fhir_id=rid)
    assert row.raw == version(base, rid, newest)
    assert (row.version_id, row.deleted) == (str(newest), False)
    assert 1 <= row.revision <= len(versions)

    deleted = deliver(ehr_source, delete(rtype, rid, newest + 1))
    assert [(m.status, m.outcome) for m in deleted] == [(InboxMessage.Status.PROCESSED, "deleted")]
    after = deliver(ehr_source, version(base, rid, stale))
    assert [(m.status, m.outcome) for m in after] == [(InboxMessage.Status.PROCESSED, "unchanged")]
    row.refresh_from_db()
    assert (row.deleted, row.version_id) == (True, str(newest + 1))


# --- concurrency, on PostgreSQL ----------------------------------------------------------------


def post_at_once(source, token: str, bodies: list[bytes]) -> list[int]:
    """POST each body from its own thread, all released together; the status codes."""
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []
    errors: list[BaseException] = []
    url = reverse("ehr-webhook", args=[source.name])

    def send(body: bytes) -> None:
        try:
            client = Client()
            barrier.wait()
            response = client.post(
                url, data=body, content_type="application/fhir+json", HTTP_AUTHORIZATION=f"Bearer {token}"
            )
            statuses.append(response.status_code)
        except BaseException as exc:  # surfaced in the test thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    join_will_block = celery_state.task_join_will_block()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        # Each eager task sets Celery's process-wide "inside a task" flag and restores it after;
        # eight threads doing so at once can leave it set, and a later test's .delay().get()
        # would then fail with "Never call result.get() within a task!".
        celery_state._set_task_join_will_block(join_will_block)
    assert not errors, errors
    return statuses


@pytest.fixture
def pg_source(transactional_db):
    source, token = source_upsert(name="concurrent-ehr")
    source.token = token
    return source


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_message_posted_by_8_threads_at_once_is_one_row(pg_source):
    body = json.dumps(version(BASES[0], "same", 1)).encode()
    assert post_at_once(pg_source, pg_source.token, [body] * 8) == [202] * 8
    message = InboxMessage.objects.get()  # exactly one
    assert (message.status, message.outcome, message.attempts) == (InboxMessage.Status.PROCESSED, "new", 1)
    row = Patient.objects.get()
    assert (row.fhir_id, row.version_id, row.revision) == ("same", "1", 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_8_versions_posted_by_8_threads_at_once_leave_the_newest(pg_source):
    bodies = [json.dumps(version(BASES[0], "raced", n)).encode() for n in range(1, 9)]
    assert post_at_once(pg_source, pg_source.token, bodies) == [202] * 8
    assert InboxMessage.objects.count() == 8
    assert set(InboxMessage.objects.values_list("status", flat=True)) == {InboxMessage.Status.PROCESSED}
    row = Patient.objects.get()
    assert (row.version_id, row.raw) == ("8", version(BASES[0], "raced", 8))
    assert 1 <= row.revision <= 8
    assert sorted(InboxMessage.objects.values_list("outcome", flat=True)).count("new") == 1
