"""The outbox against a real FHIR server (sekmet on 127.0.0.1): write-back with If-Match, the
412 re-read, retries with backoff, dead letters, retry from the console, after-commit scheduling
and idempotent enqueueing."""

import logging
import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from apps.core.roles import Role
from apps.ehr.client import FhirClient
from apps.ehr.models import EhrSource, OutboxMessage
from apps.ehr.services.outbox import outbox_due, outbox_enqueue, outbox_retry, outbox_send
from apps.ehr.tasks import outbox_relay_task, outbox_send_task

from .fhir_server import free_port

Status = OutboxMessage.Status
ACCEPTED = {
    "status": "accepted",
    "businessStatus": {
        "coding": [{"system": "http://clinops.example.org/fhir/CodeSystem/referral-status", "code": "accepted"}],
        "text": "Accepted",
    },
}


@pytest.fixture
def fhir(fhir_server):
    with FhirClient(base_url=fhir_server) as client:
        yield client


@pytest.fixture
def source(db, fhir_server):
    return EhrSource.objects.create(name="outbox-ehr", base_url=fhir_server)


@pytest.fixture
def referral_task(fhir):
    """A referral Task on the EHR, as the referrer sent it."""
    return fhir.create(
        {
            "resourceType": "Task",
            "status": "requested",
            "intent": "order",
            "description": "Cardiology referral for Ms Okafor",
            "for": {"reference": "Patient/example", "display": "Amaka Okafor"},
        }
    ).body


def enqueue(source, task, changes=ACCEPTED, **kwargs) -> OutboxMessage:
    return outbox_enqueue(
        source=source, resource_type="Task", resource_id=task["id"], changes=changes, if_match_version="1", **kwargs
    )


def test_write_back_updates_the_task_with_if_match_and_a_new_version(source, fhir, referral_task, caplog):
    message = enqueue(source, referral_task)

    with caplog.at_level(logging.DEBUG):
        sent = outbox_send(message_id=message.pk)

    assert (sent.status, sent.attempts, sent.response_status, sent.response_version) == (Status.SENT, 1, 200, "2")
    assert sent.sent_at is not None and sent.last_error == ""
    on_ehr, version = fhir.read_versioned("Task", referral_task["id"])
    assert version == "2"
    assert on_ehr["status"] == "accepted"
    assert on_ehr["businessStatus"]["text"] == "Accepted"
    assert on_ehr["description"] == referral_task["description"]  # the rest of the Task is kept
    # Neither the Task nor the patient reach the logs.
    assert "Okafor" not in caplog.text
    assert f"outbox: message {message.pk} sent (HTTP 200)" in caplog.text


def test_a_sent_message_is_not_sent_again(source, fhir, referral_task):
    message = enqueue(source, referral_task)
    outbox_send(message_id=message.pk)

    again = outbox_send_task.delay(message.pk).get()

    assert again == Status.SENT
    assert fhir.read_versioned("Task", referral_task["id"])[1] == "2"
    assert OutboxMessage.objects.get(pk=message.pk).attempts == 1


def test_a_change_already_on_the_ehr_is_not_written_again(source, fhir, referral_task):
    """A repeated send whose first result was lost finds the Task as it wants it."""
    fhir.update({**referral_task, **ACCEPTED}, if_match="1")
    message = enqueue(source, referral_task)

    sent = outbox_send(message_id=message.pk)

    assert (sent.status, sent.response_version) == (Status.SENT, "2")
    assert fhir.read_versioned("Task", referral_task["id"])[1] == "2"  # no empty new version


def test_someone_elses_change_in_between_is_kept_through_the_412_re_read(source, fhir, referral_task, monkeypatch):
    """The EHR's Task changes after the relay read it: the PUT with the stale version gets 412,
    the relay reads again and writes on top of the other change."""
    message = enqueue(source, referral_task)
    real_read = FhirClient.read_versioned
    reads = []

    def read_then_someone_else_writes(self, resource_type, resource_id):
        result = real_read(self, resource_type, resource_id)
        reads.append(result[1])
        if len(reads) == 1:
            fhir.update({**result[0], "priority": "urgent"}, if_match=result[1])  # the referrer, meanwhile
        return result

    monkeypatch.setattr(FhirClient, "read_versioned", read_then_someone_else_writes)
    sent = outbox_send(message_id=message.pk)

    assert reads == ["1", "2"]  # read, 412 on W/"1", read again
    assert (sent.status, sent.attempts, sent.response_version) == (Status.SENT, 1, "3")
    on_ehr = fhir.read("Task", referral_task["id"])
    assert (on_ehr["status"], on_ehr["priority"]) == ("accepted", "urgent")


def test_a_task_that_keeps_changing_is_retried_later(source, fhir, referral_task, monkeypatch):
    message = enqueue(source, referral_task)
    real_read = FhirClient.read_versioned

    def always_stale(self, resource_type, resource_id):
        body, version = real_read(self, resource_type, resource_id)
        fhir.update({**body, "note": [{"text": f"edit after v{version}"}]}, if_match=version)
        return body, version

    monkeypatch.setattr(FhirClient, "read_versioned", always_stale)
    failed = outbox_send(message_id=message.pk)

    assert (failed.status, failed.attempts, failed.response_status) == (Status.FAILED, 1, None)
    assert "412 twice" in failed.last_error
    assert failed.next_attempt_at > timezone.now()
    assert fhir.read("Task", referral_task["id"])["status"] == "requested"


def test_an_unreachable_ehr_backs_off_then_dead_letters_and_a_retry_revives_it(
    source, fhir, referral_task, make_user, settings, django_capture_on_commit_callbacks
):
    settings.EHR_RETRY_BASE_SECONDS = 30
    settings.EHR_RETRY_MAX_SECONDS = 3600
    settings.EHR_MAX_ATTEMPTS = 5
    live_url = source.base_url
    source.base_url = f"http://127.0.0.1:{free_port()}/fhir"  # the EHR is down
    source.save()
    message = enqueue(source, referral_task)

    delays = []
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for attempt in range(1, 5):
            failed = outbox_send(message_id=message.pk)
            assert (failed.status, failed.attempts) == (Status.FAILED, attempt)
            assert "could not reach the EHR" in failed.last_error
            delays.append((failed.next_attempt_at - timezone.now()).total_seconds())
            # Not due yet: another send (or the relay) leaves it alone.
            assert outbox_send(message_id=message.pk).attempts == attempt
            assert message.pk not in outbox_due()
            clock.move_to(failed.next_attempt_at + timedelta(seconds=1))
            assert outbox_due() == [message.pk]
        dead = outbox_send(message_id=message.pk)

    # 30 s doubling, ±20 % jitter.
    for delay, base in zip(delays, (30, 60, 120, 240), strict=True):
        assert base * 0.8 <= delay <= base * 1.2
    assert (dead.status, dead.attempts, dead.next_attempt_at) == (Status.DEAD, 5, None)
    assert message.pk not in outbox_due(now=timezone.now() + timedelta(days=1))

    # The EHR is back; the integration admin retries from the console.
    source.base_url = live_url
    source.save()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert outbox_retry(message_ids=[message.pk], by=make_user(Role.INTEGRATION_ADMIN)) == 1
    assert len(callbacks) == 1
    revived = OutboxMessage.objects.get(pk=message.pk)
    assert (revived.status, revived.attempts, revived.response_version) == (Status.SENT, 1, "2")
    assert fhir.read("Task", referral_task["id"])["status"] == "accepted"
    # The success cleared last_error, not the history of why the five attempts failed.
    assert revived.last_error == ""
    assert [f["attempt"] for f in revived.failures] == [1, 2, 3, 4, 5]
    assert all("could not reach the EHR" in f["error"] for f in revived.failures)


def test_only_integration_admins_may_retry(source, referral_task, make_user):
    message = enqueue(source, referral_task)
    OutboxMessage.objects.filter(pk=message.pk).update(status=Status.DEAD)
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        outbox_retry(message_ids=[message.pk], by=make_user(Role.SCHEDULER))
    assert OutboxMessage.objects.get(pk=message.pk).status == Status.DEAD


def test_a_refusal_is_a_dead_letter_at_once_with_what_the_ehr_said(source):
    message = outbox_enqueue(source=source, resource_type="Task", resource_id="no-such-task", changes=ACCEPTED)

    dead = outbox_send(message_id=message.pk)

    assert (dead.status, dead.attempts, dead.response_status) == (Status.DEAD, 1, 404)
    assert "HTTP 404" in dead.last_error and "not found" in dead.last_error


def test_a_server_error_is_retried(source, fhir, referral_task, monkeypatch):
    message = enqueue(source, referral_task)

    def server_error(self, resource, *, if_match=None):
        from apps.ehr.client import FhirTransportError

        raise FhirTransportError("PUT Task: HTTP 503 from the EHR", status=503)

    monkeypatch.setattr(FhirClient, "update", server_error)
    failed = outbox_send(message_id=message.pk)
    assert (failed.status, failed.response_status) == (Status.FAILED, 503)


def test_create_makes_the_resource_once_and_records_its_id(source, fhir):
    task = {
        "status": "requested",
        "intent": "order",
        "identifier": [{"system": "http://clinops.example.org/outbox", "value": "create-once-1"}],
    }
    message = outbox_enqueue(
        source=source, resource_type="Task", resource_id="", changes=task, operation=OutboxMessage.Operation.CREATE
    )

    sent = outbox_send(message_id=message.pk)

    assert (sent.status, sent.response_status) == (Status.SENT, 201)
    assert fhir.read("Task", sent.resource_id)["identifier"] == task["identifier"]
    # The result is lost (say the worker died before recording it): sending again finds the
    # Task by its identifier (If-None-Exist) instead of making a second one.
    OutboxMessage.objects.filter(pk=message.pk).update(status=Status.PENDING, attempts=0, resource_id="")
    outbox_send(message_id=message.pk)
    found = list(fhir.search_pages("Task", {"identifier": "http://clinops.example.org/outbox|create-once-1"}))
    assert sum(len(p.get("entry", [])) for p in found) == 1


# --- claiming: two relays, one send -------------------------------------------------------------


def test_a_second_relay_during_a_send_leaves_the_message_alone(source, fhir, referral_task, monkeypatch):
    message = enqueue(source, referral_task)
    real_update = FhirClient.update
    seen_by_second_relay = []

    def update_while_another_relay_runs(self, resource, *, if_match=None):
        seen_by_second_relay.append(outbox_send(message_id=message.pk))  # the other relay, meanwhile
        return real_update(self, resource, if_match=if_match)

    monkeypatch.setattr(FhirClient, "update", update_while_another_relay_runs)
    sent = outbox_send(message_id=message.pk)

    assert sent.status == Status.SENT
    (other,) = seen_by_second_relay
    assert (other.status, other.attempts) == (Status.PENDING, 1)  # claimed by the first, not sent twice
    assert fhir.read_versioned("Task", referral_task["id"])[1] == "2"


def test_the_relay_sends_what_was_stranded_and_skips_paused_sources(source, fhir, referral_task):
    stranded = enqueue(source, referral_task)
    fresh = enqueue(source, fhir.create({"resourceType": "Task", "status": "requested", "intent": "order"}).body)
    paused = EhrSource.objects.create(name="paused", base_url=source.base_url, is_active=False)
    held = enqueue(paused, referral_task, changes={"status": "rejected"})
    OutboxMessage.objects.filter(pk__in=[stranded.pk, held.pk]).update(created_at=timezone.now() - timedelta(minutes=5))

    assert outbox_due() == [stranded.pk]  # the fresh one's own task is on its way
    assert outbox_relay_task.delay().get() == 1

    assert OutboxMessage.objects.get(pk=stranded.pk).status == Status.SENT
    assert OutboxMessage.objects.get(pk=fresh.pk).status == Status.PENDING
    assert OutboxMessage.objects.get(pk=held.pk).status == Status.PENDING
    assert outbox_send(message_id=held.pk).attempts == 0  # a paused source sends nothing


# --- enqueueing -----------------------------------------------------------------------------------


def test_enqueue_sends_only_after_commit(source, fhir, referral_task, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = enqueue(source, referral_task, dedupe_key="referral:1:transition:1")
    assert len(callbacks) == 1
    assert OutboxMessage.objects.get(pk=message.pk).status == Status.PENDING
    assert fhir.read("Task", referral_task["id"])["status"] == "requested"  # nothing sent yet

    callbacks[0]()  # the commit

    assert OutboxMessage.objects.get(pk=message.pk).status == Status.SENT
    assert fhir.read("Task", referral_task["id"])["status"] == "accepted"


def test_enqueue_rolled_back_with_its_transaction_sends_nothing(
    source, referral_task, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        enqueue(source, referral_task)
        raise RuntimeError("the workflow change failed")
    assert callbacks == []
    assert not OutboxMessage.objects.exists()


def test_the_same_dedupe_key_twice_is_one_message(source, referral_task, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        first = enqueue(source, referral_task, dedupe_key="referral:7:transition:3")
        second = enqueue(source, referral_task, changes={"status": "rejected"}, dedupe_key="referral:7:transition:3")

    assert first.pk == second.pk
    assert OutboxMessage.objects.count() == 1
    assert OutboxMessage.objects.get().changes == ACCEPTED  # the first one wins
    assert len(callbacks) == 1


def test_enqueue_rejects_an_update_without_a_resource_id(source):
    from apps.core.errors import ApplicationError

    with pytest.raises(ApplicationError):
        outbox_enqueue(source=source, resource_type="Task", resource_id="", changes=ACCEPTED)


def test_the_send_task_of_a_message_that_is_gone_does_nothing(db):
    assert outbox_send_task.delay(999_999).get() == "missing"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_transactions_racing_on_one_dedupe_key_make_one_message(fhir_server):
    """PostgreSQL: the second insert waits for the first transaction, then finds its row."""
    source = EhrSource.objects.create(name="race-ehr", base_url=fhir_server)
    first_inserted, release_first = threading.Event(), threading.Event()
    results, errors = {}, []

    def first():
        try:
            with transaction.atomic():
                results["first"] = enqueue(source, {"id": "t-race"}, dedupe_key="race:1").pk
                first_inserted.set()
                release_first.wait(10)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def second():
        try:
            first_inserted.wait(10)
            with transaction.atomic():
                timer = threading.Timer(0.5, release_first.set)  # let the first commit while we wait
                timer.start()
                results["second"] = enqueue(
                    source, {"id": "t-race"}, changes={"status": "rejected"}, dedupe_key="race:1"
                ).pk
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert errors == []
    assert results["first"] == results["second"]
    assert OutboxMessage.objects.filter(dedupe_key="race:1").count() == 1
