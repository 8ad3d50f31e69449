"""Id-only notifications: the inbox fetches the resource from the EHR with no database
transaction open (a leased pre-pass), then stores and applies it in a short one.

The EHR is a small HTTP server on 127.0.0.1; the ehr conftest's guard fails any test whose
code sends a request while it holds a transaction open.
"""

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from apps.ehr.models import EhrSource, InboxMessage, Patient
from apps.ehr.retry import max_attempts
from apps.ehr.services.inbox import inbox_process, inbox_receive, inbox_sweep

from .fhir_server import fhir_json, tiny_server

pytestmark = pytest.mark.django_db
Status = InboxMessage.Status

PATIENT = {
    "resourceType": "Patient",
    "id": "p9",
    "meta": {"versionId": "3", "lastUpdated": "2025-03-01T10:00:00Z"},
    "name": [{"family": "Fetched"}],
}


def notification(*ids: str) -> dict:
    """An R4B subscription notification that names the changed resources without their content."""
    return {
        "resourceType": "Bundle",
        "type": "subscription-notification",
        "entry": [
            {"resource": {"resourceType": "SubscriptionStatus", "status": "active", "type": "event-notification"}},
            *({"fullUrl": f"https://ehr.example.org/fhir/Patient/{pid}"} for pid in ids),
        ],
    }


def ehr(answers: list):
    """The EHR: each request gets the next answer (the last one repeats)."""

    def handle(request):
        return answers.pop(0) if len(answers) > 1 else answers[0]

    return tiny_server(handle)


def received(base_url: str, *ids: str) -> list[InboxMessage]:
    source = EhrSource.objects.create(name="fetch-ehr", base_url=f"{base_url}/fhir")
    receipt = inbox_receive(source=source, body=notification(*ids), channel=InboxMessage.Channel.WEBHOOK, process=False)
    return list(InboxMessage.objects.filter(pk__in=receipt.new_ids).order_by("id"))


def test_an_id_only_message_is_fetched_outside_the_transaction_then_applied():
    with ehr([fhir_json(200, PATIENT)]) as (url, seen):
        [message] = received(url, "p9")
        assert (message.operation, message.payload) == ("fetch", "")
        [processed] = inbox_process(message_ids=[message.pk])
    assert [r["path"] for r in seen] == ["/fhir/Patient/p9"]
    message.refresh_from_db()
    assert (message.status, message.outcome, message.attempts) == (Status.PROCESSED, "new", 1)
    assert (message.operation, message.version_id) == ("upsert", "3")
    assert '"Fetched"' in message.payload and message.next_attempt_at is None
    assert processed.status == Status.PROCESSED
    assert Patient.objects.get(fhir_id="p9").family == "Fetched"
    assert inbox_process(message_ids=[message.pk]) == []  # a second run fetches nothing


def test_a_resource_gone_from_the_ehr_is_applied_as_a_delete():
    with ehr([fhir_json(410, {"resourceType": "OperationOutcome", "issue": []})]) as (url, _):
        [message] = received(url, "gone")
        inbox_process(message_ids=[message.pk])
    message.refresh_from_db()
    assert (message.status, message.operation, message.outcome) == (Status.PROCESSED, "delete", "deleted")


def test_a_refused_read_is_a_dead_letter():
    with ehr([fhir_json(403, {"resourceType": "OperationOutcome", "issue": [{"code": "forbidden"}]})]) as (url, _):
        [message] = received(url, "p9")
        inbox_process(message_ids=[message.pk])
    message.refresh_from_db()
    assert (message.status, message.error_code, message.attempts) == (Status.DEAD, "fetch_refused", 1)
    assert "HTTP 403" in message.last_error and message.operation == "fetch"


def test_an_ehr_that_fails_is_retried_with_backoff_then_the_fetch_succeeds():
    answers = [fhir_json(503, {}), fhir_json(200, PATIENT)]
    with ehr(answers) as (url, seen), time_machine.travel(timezone.now(), tick=False) as clock:
        [message] = received(url, "p9")
        inbox_process(message_ids=[message.pk])
        message.refresh_from_db()
        assert (message.status, message.attempts, message.operation) == (Status.FAILED, 1, "fetch")
        assert "HTTP 503" in message.last_error and message.next_attempt_at > timezone.now()
        assert inbox_process(message_ids=[message.pk]) == []  # not due yet
        clock.move_to(message.next_attempt_at + timedelta(seconds=1))
        with mock.patch("apps.ehr.services.inbox._queue") as queue:
            assert inbox_sweep() == 1
        inbox_process(message_ids=queue.call_args.args[0])
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (Status.PROCESSED, 2, "")
    assert len(seen) == 2 and Patient.objects.get(fhir_id="p9").family == "Fetched"


def test_a_failure_after_the_fetch_keeps_the_fetched_payload_for_the_retry():
    from apps.ehr.handlers import handler_register, handler_unregister

    def broken(change):
        raise RuntimeError("handler down")

    handler_register("Patient", broken)
    try:
        with ehr([fhir_json(200, PATIENT)]) as (url, seen):
            [message] = received(url, "p9")
            inbox_process(message_ids=[message.pk])
    finally:
        handler_unregister("Patient", broken)
    message.refresh_from_db()
    assert (message.status, message.operation, message.version_id) == (Status.FAILED, "upsert", "3")
    assert '"Fetched"' in message.payload and "handler down" in message.last_error
    InboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    inbox_process(message_ids=[message.pk])  # the EHR is gone now: the stored payload is applied
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.PROCESSED, 2) and len(seen) == 1


def test_a_crash_mid_fetch_leaves_a_lease_that_expires_and_the_message_is_fetched_again():
    with ehr([fhir_json(200, PATIENT)]) as (url, seen), time_machine.travel(timezone.now(), tick=False) as clock:
        [message] = received(url, "p9")
        with (
            mock.patch("apps.ehr.services.inbox_fetch._fetch", side_effect=KeyboardInterrupt),
            pytest.raises(KeyboardInterrupt),
        ):
            inbox_process(message_ids=[message.pk])  # the worker dies between claim and result
        message.refresh_from_db()
        assert (message.status, message.attempts, message.payload) == (Status.RECEIVED, 1, "")
        lease = message.next_attempt_at
        assert lease > timezone.now()
        clock.move_to(lease - timedelta(seconds=1))
        assert inbox_process(message_ids=[message.pk]) == []  # leased: another worker leaves it
        with mock.patch("apps.ehr.services.inbox._queue") as queue:
            assert inbox_sweep() == 0
        clock.move_to(lease + timedelta(seconds=1))
        with mock.patch("apps.ehr.services.inbox._queue") as queue:
            assert inbox_sweep() == 1
        inbox_process(message_ids=queue.call_args.args[0])
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.PROCESSED, 2)
    assert len(seen) == 1 and Patient.objects.get(fhir_id="p9").revision == 1


def test_a_fetch_whose_message_was_put_back_in_line_meanwhile_is_not_recorded():
    from apps.ehr.client import FhirClient

    read = FhirClient.read

    def replayed_during_the_read(client, resource_type, resource_id):
        # Someone retries the message from the console while this worker waits for the EHR.
        InboxMessage.objects.filter(resource_id=resource_id).update(attempts=0, next_attempt_at=None)
        return read(client, resource_type, resource_id)

    with ehr([fhir_json(200, PATIENT)]) as (url, seen):
        [message] = received(url, "p9")
        with mock.patch.object(FhirClient, "read", replayed_during_the_read):
            inbox_process(message_ids=[message.pk])
        message.refresh_from_db()
        assert (message.status, message.attempts, message.operation) == (Status.RECEIVED, 0, "fetch")
        assert not Patient.objects.exists()
        inbox_process(message_ids=[message.pk])  # the retry's own run
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.PROCESSED, 1) and len(seen) == 2


def test_fetch_failures_dead_letter_after_the_last_attempt():
    with ehr([fhir_json(500, {})]) as (url, _), time_machine.travel(timezone.now(), tick=False) as clock:
        [message] = received(url, "p9")
        for _attempt in range(max_attempts()):
            inbox_process(message_ids=[message.pk])
            message.refresh_from_db()
            if message.next_attempt_at:
                clock.move_to(message.next_attempt_at + timedelta(seconds=1))
    assert (message.status, message.attempts, message.next_attempt_at) == (Status.DEAD, max_attempts(), None)


def test_one_client_serves_several_messages_of_a_source():
    other = {**PATIENT, "id": "p10", "name": [{"family": "Other"}]}
    with ehr([fhir_json(200, PATIENT), fhir_json(200, other)]) as (url, seen):
        messages = received(url, "p9", "p10")
        processed = inbox_process(message_ids=[m.pk for m in messages])
    assert [m.status for m in processed] == [Status.PROCESSED, Status.PROCESSED]
    assert sorted(Patient.objects.values_list("family", flat=True)) == ["Fetched", "Other"]
    assert len(seen) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_second_worker_during_a_fetch_leaves_the_message_alone_and_holds_no_lock_on_it():
    """Worker A is waiting for the EHR: its claim is committed, so worker B neither waits for a
    row lock nor fetches the message again; A's result is applied once."""
    import threading

    from django.db import connection

    answering, release = threading.Event(), threading.Event()

    def slow_ehr(request):
        answering.set()
        release.wait(10)
        return fhir_json(200, PATIENT)

    with tiny_server(slow_ehr) as (url, seen):
        [message] = received(url, "p9")
        results: list = []

        def worker_a():
            try:
                results.append(inbox_process(message_ids=[message.pk]))
            finally:
                connection.close()

        thread = threading.Thread(target=worker_a)
        thread.start()
        assert answering.wait(10)
        with connection.cursor() as cursor:  # nothing of A's is still open while it waits
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE state LIKE 'idle in transaction%%' AND datname = current_database()"
            )
            assert cursor.fetchone()[0] == 0
        assert inbox_process(message_ids=[message.pk]) == []  # worker B: leased, left alone
        release.set()
        thread.join(10)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.PROCESSED, 1)
    assert len(seen) == 1 and Patient.objects.get(fhir_id="p9").revision == 1
    assert [m.status for m in results[0]] == [Status.PROCESSED]


def test_a_smart_source_gets_its_token_and_the_resource_outside_any_transaction(smart_fhir_server):
    """Against the real secured FHIR server: the token fetch and the read both happen after the
    processing transaction committed (the guard would fail the test otherwise)."""
    from apps.ehr.client import FhirClient, client_for, token_cache_clear

    server = smart_fhir_server
    rs = server.smart_clients["clinops-rs"]
    seeded = client_for(
        EhrSource(name="b", base_url=server.base_url, auth_type="bearer", bearer_token=server.bearer_token)
    ).create({"resourceType": "Patient", "name": [{"family": "Smart"}]})
    source = EhrSource.objects.create(
        name="smart-fetch", base_url=server.base_url, auth_type=EhrSource.Auth.SMART, client_id=rs.client_id,
        key_id=rs.key_id, private_key_pem=rs.private_key_pem, token_url=server.token_url,
    )  # fmt: skip
    body = {
        "resourceType": "Bundle",
        "type": "subscription-notification",
        "entry": [{"fullUrl": f"{server.base_url}/Patient/{seeded.body['id']}"}],
    }
    receipt = inbox_receive(source=source, body=body, channel=InboxMessage.Channel.WEBHOOK, process=False)
    token_cache_clear()  # the token is fetched during processing
    requested = []
    real_request = FhirClient.request

    def spy(client, method, path, **kwargs):
        requested.append(path)
        return real_request(client, method, path, **kwargs)

    with mock.patch.object(FhirClient, "request", spy):
        [message] = inbox_process(message_ids=receipt.new_ids)
    assert requested == [f"Patient/{seeded.body['id']}"]
    assert (message.status, message.operation) == (Status.PROCESSED, "upsert")
    assert Patient.objects.get(fhir_id=seeded.body["id"]).family == "Smart"
