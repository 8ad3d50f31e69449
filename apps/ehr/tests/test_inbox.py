"""The inbox: durable, deduplicated, retried, dead-lettered; handlers called after the upsert."""

import itertools
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from apps.ehr.handlers import handler_register, handler_unregister
from apps.ehr.models import InboxMessage, Observation, Patient, ServiceRequest, StoredResource
from apps.ehr.retry import max_attempts
from apps.ehr.services.inbox import inbox_process, inbox_receive, inbox_sweep

pytestmark = pytest.mark.django_db
Status = InboxMessage.Status


def patient(pid="p1", version="1", when="2025-01-01T00:00:00Z", family="Doe"):
    return {
        "resourceType": "Patient",
        "id": pid,
        "meta": {"versionId": version, "lastUpdated": when},
        "name": [{"family": family}],
    }


def receive(source, body, **kwargs):
    return inbox_receive(source=source, body=body, channel=InboxMessage.Channel.WEBHOOK, **kwargs)


def test_a_message_is_stored_then_applied_after_commit(ehr_source, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        receipt = receive(ehr_source, patient())
    message = InboxMessage.objects.get(pk=receipt.new_ids[0])
    assert message.status == Status.RECEIVED and not Patient.objects.exists()
    for callback in callbacks:
        callback()
    message.refresh_from_db()
    assert (message.status, message.outcome, message.attempts) == (Status.PROCESSED, "new", 1)
    assert Patient.objects.get().family == "Doe"


def test_the_same_message_twice_is_one_message_and_one_row(ehr_source, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = receive(ehr_source, patient())
        second = receive(ehr_source, patient())
    assert second.messages[0].duplicate and second.messages[0].id == first.messages[0].id
    assert InboxMessage.objects.count() == 1 and Patient.objects.count() == 1


def test_an_older_version_after_a_newer_changes_nothing(ehr_source, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        receive(ehr_source, patient(version="2", when="2025-01-02T00:00:00Z", family="New"))
    with django_capture_on_commit_callbacks(execute=True):  # version 1 arrives once version 2 was applied
        receive(ehr_source, patient(version="1", when="2025-01-01T00:00:00Z", family="Old"))
    row = Patient.objects.get()
    assert (row.family, row.version_id, row.revision) == ("New", "2", 1)
    assert InboxMessage.objects.filter(outcome="unchanged").count() == 1


def test_one_invalid_entry_fails_alone_with_a_clear_error(ehr_source, django_capture_on_commit_callbacks):
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": patient("good")},
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": "bad",
                    "status": "final",
                    "valueQuantity": {"value": "high"},
                }
            },
            {"resource": {"resourceType": "Observation", "id": "ok", "status": "final", "code": {"text": "K"}}},
        ],
    }
    with django_capture_on_commit_callbacks(execute=True):
        receive(ehr_source, bundle)
    bad = InboxMessage.objects.get(resource_id="bad")
    assert bad.status == Status.DEAD and bad.error_code == "invalid"
    assert "Observation.code: Field required" in bad.last_error
    assert "valueQuantity.value" in bad.last_error
    assert set(Observation.objects.values_list("fhir_id", flat=True)) == {"ok"}
    assert Patient.objects.filter(fhir_id="good").exists()


def test_a_resource_type_nothing_uses_is_kept_in_the_generic_store(ehr_source, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        receive(ehr_source, {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}})
    message = InboxMessage.objects.get()
    assert (message.status, message.outcome) == (Status.PROCESSED, "new")
    row = StoredResource.objects.get(resource_type="Condition", fhir_id="c1")
    assert (row.patient_ref, row.raw["subject"]) == ("Patient/p1", {"reference": "Patient/p1"})


def test_a_reference_to_a_resource_not_yet_received_resolves_when_it_arrives(
    ehr_source, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        receive(
            ehr_source,
            {
                "resourceType": "ServiceRequest",
                "id": "sr1",
                "status": "active",
                "intent": "order",
                "subject": {"reference": "Patient/late"},
            },
        )
    request = ServiceRequest.objects.get()
    assert request.subject_ref == "Patient/late" and not Patient.objects.filter(fhir_id="late").exists()
    with django_capture_on_commit_callbacks(execute=True):
        receive(ehr_source, patient("late"))
    assert Patient.objects.get(fhir_id=request.subject_ref.split("/")[1]).family == "Doe"


def test_a_delete_marks_the_record_deleted_and_an_older_version_cannot_revive_it(
    ehr_source, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        receive(ehr_source, patient(version="1"))
        receive(
            ehr_source,
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [{"request": {"method": "DELETE", "url": "Patient/p1"}}],
            },
        )
        receive(ehr_source, patient(version="1", family="Again"))  # a replay of the old version
    row = Patient.objects.get()
    assert row.deleted and row.raw == {"resourceType": "Patient", "id": "p1"}


def test_handlers_get_new_and_updated_resources_but_not_unchanged_ones(ehr_source, django_capture_on_commit_callbacks):
    seen = []

    def handler(change):
        seen.append((change.resource_id, change.outcome, change.record.family))

    handler_register("Patient", handler)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            receive(ehr_source, patient(version="1"))
            receive(ehr_source, patient(version="1"))  # duplicate: not even a message
            receive(ehr_source, patient(version="2", when="2025-02-01T00:00:00Z", family="Roe"))
            receive(ehr_source, patient(version="1", family="Stale"))  # older: unchanged
    finally:
        handler_unregister("Patient", handler)
    assert seen == [("p1", "new", "Doe"), ("p1", "updated", "Roe")]


def test_a_poison_message_is_retried_with_backoff_then_dead_lettered_and_others_flow(
    ehr_source, django_capture_on_commit_callbacks
):
    def poison(change):
        if change.resource_id == "poison":
            raise RuntimeError("referral service unavailable")

    handler_register("Patient", poison)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            receive(ehr_source, patient("poison"))
            receive(ehr_source, patient("fine"))
        message = InboxMessage.objects.get(resource_id="poison")
        assert (message.status, message.attempts) == (Status.FAILED, 1)
        assert "referral service unavailable" in message.last_error
        assert not Patient.objects.filter(fhir_id="poison").exists()  # the upsert rolled back with the handler
        assert Patient.objects.filter(fhir_id="fine").exists()
        gaps = []
        with time_machine.travel(timezone.now(), tick=False) as clock:
            while message.status == Status.FAILED:
                gaps.append(message.next_attempt_at - timezone.now())
                assert inbox_process(message_ids=[message.pk]) == []  # not due yet: left alone
                clock.move_to(message.next_attempt_at + timedelta(seconds=1))
                with django_capture_on_commit_callbacks(execute=True):
                    assert inbox_sweep() == 1
                message.refresh_from_db()
        assert message.status == Status.DEAD and message.attempts == max_attempts()
        assert all(later > earlier for earlier, later in itertools.pairwise(gaps))
    finally:
        handler_unregister("Patient", poison)


def test_broker_down_at_commit_leaves_the_message_for_the_sweeper(ehr_source, django_capture_on_commit_callbacks):
    broker_down = mock.patch("apps.ehr.tasks.inbox.inbox_process_task.delay", side_effect=ConnectionError("down"))
    with broker_down, django_capture_on_commit_callbacks(execute=True):
        receipt = receive(ehr_source, patient())
    message = InboxMessage.objects.get(pk=receipt.new_ids[0])
    assert message.status == Status.RECEIVED  # stored, acknowledged, not lost
    assert inbox_sweep() == 0  # too fresh: its own task may still be on the way
    later = time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False)
    with later, django_capture_on_commit_callbacks(execute=True):
        assert inbox_sweep() == 1
    message.refresh_from_db()
    assert message.status == Status.PROCESSED and Patient.objects.exists()


def test_processing_twice_is_a_no_op(ehr_source, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        receipt = receive(ehr_source, patient())
    assert inbox_process(message_ids=receipt.new_ids) == []
    assert InboxMessage.objects.get().attempts == 1 and Patient.objects.get().revision == 1


def test_no_patient_data_reaches_the_logs(ehr_source, django_capture_on_commit_callbacks, caplog):
    caplog.set_level("DEBUG")
    with django_capture_on_commit_callbacks(execute=True):
        receive(ehr_source, patient(family="Zebulon-Unique"))
        receive(ehr_source, {"resourceType": "Observation", "id": "x", "status": "final", "note": "Zebulon-Unique"})
    assert "Zebulon-Unique" not in caplog.text


def test_a_dead_letter_is_replayed_once_after_the_fix(ehr_source, django_capture_on_commit_callbacks, own_site):
    from apps.core.roles import Role
    from apps.ehr.services.replay import inbox_replay
    from tests.plugins.core import UserFactory

    def poison(change):
        raise RuntimeError("bug in a handler")

    handler_register("Patient", poison)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            receive(ehr_source, patient("poison"))
        message = InboxMessage.objects.get()
        InboxMessage.objects.filter(pk=message.pk).update(status=Status.DEAD)  # after its last attempt
    finally:
        handler_unregister("Patient", poison)  # the fix is deployed
    admin = UserFactory(role=Role.INTEGRATION_ADMIN, sites=[own_site])
    with django_capture_on_commit_callbacks(execute=True):
        assert inbox_replay(filters={"status": "dead"}, by=admin) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert inbox_replay(filters={"status": "dead"}, by=admin) == 0
    message.refresh_from_db()
    assert message.status == Status.PROCESSED and Patient.objects.get().revision == 1
