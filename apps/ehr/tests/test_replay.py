"""Retry and replay: back to ``received`` with a fresh set of attempts, queued after commit,
idempotent, permission-checked, logged without patient data."""

import logging
import sys
import types
from datetime import UTC, datetime
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied

from apps.core.roles import Role
from apps.ehr.models import InboxMessage, Patient
from apps.ehr.services.replay import inbox_replay, inbox_retry, outbox_retry
from apps.ehr.tasks.inbox import inbox_process_task
from tests.plugins.ehr_messages import inbox_make, patient_resource, source_make

pytestmark = pytest.mark.django_db
Status = InboxMessage.Status


@pytest.fixture
def admin(make_user):
    return make_user(Role.INTEGRATION_ADMIN)


@pytest.fixture
def delay():
    """The task's ``delay``, recorded instead of run."""
    with mock.patch.object(inbox_process_task, "delay") as patched:
        yield patched


def test_retry_puts_messages_back_with_a_fresh_set_of_attempts(admin, django_capture_on_commit_callbacks):
    dead = inbox_make(status=Status.DEAD)
    failed = inbox_make(status=Status.FAILED, next_attempt_at=datetime(2030, 1, 1, tzinfo=UTC))
    stranded = inbox_make(status=Status.RECEIVED, attempts=1)
    done = inbox_make(status=Status.PROCESSED)

    with mock.patch.object(inbox_process_task, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            count = inbox_retry(message_ids=[dead.pk, failed.pk, stranded.pk, done.pk, 999_999], by=admin)
        assert count == 3
        assert delay.call_count == 0  # nothing is queued before commit
        for callback in callbacks:
            callback()
    assert sorted(c.args[0] for c in delay.call_args_list) == sorted([dead.pk, failed.pk, stranded.pk])

    for message in (dead, failed, stranded):
        message.refresh_from_db()
        assert (message.status, message.attempts, message.next_attempt_at) == (Status.RECEIVED, 0, None)
    assert dead.error_code == "invalid" and dead.last_error  # what it failed with stays until the next attempt
    done.refresh_from_db()
    assert (done.status, done.attempts) == (Status.PROCESSED, 1)


def test_a_retried_dead_letter_is_processed_after_commit(admin, django_capture_on_commit_callbacks):
    message = inbox_make(status=Status.DEAD, resource=patient_resource("p7", family="Fixed"))
    with django_capture_on_commit_callbacks(execute=True):
        inbox_retry(message_ids=[message.pk], by=admin)
    message.refresh_from_db()
    assert (message.status, message.attempts, message.error_code, message.outcome) == (Status.PROCESSED, 1, "", "new")
    assert Patient.objects.get(fhir_id="p7").family == "Fixed"


def test_replay_takes_only_dead_letters_matching_the_filters(admin, delay, django_capture_on_commit_callbacks):
    feed, other = source_make("feed"), source_make("other")
    mine = inbox_make(source=feed, status=Status.DEAD)
    theirs = inbox_make(source=other, status=Status.DEAD)
    failing = inbox_make(source=feed, status=Status.FAILED)

    with django_capture_on_commit_callbacks(execute=True):
        assert inbox_replay(filters={"source_id": feed.pk}, by=admin) == 1
        # A status filter other than "dead" replays nothing.
        assert inbox_replay(filters={"status": "failed"}, by=admin) == 0
    assert [c.args[0] for c in delay.call_args_list] == [mine.pk]
    statuses = dict(InboxMessage.objects.values_list("id", "status"))
    assert statuses == {mine.pk: Status.RECEIVED, theirs.pk: Status.DEAD, failing.pk: Status.FAILED}


def test_replaying_twice_queues_each_message_once(admin, delay, django_capture_on_commit_callbacks):
    inbox_make(status=Status.DEAD)
    inbox_make(status=Status.DEAD)
    with django_capture_on_commit_callbacks(execute=True):
        first = inbox_replay(filters={}, by=admin)
        second = inbox_replay(filters={}, by=admin)
    assert (first, second, delay.call_count) == (2, 0, 2)


def test_replaying_an_older_version_after_a_newer_one_changes_nothing(admin, django_capture_on_commit_callbacks):
    """The store's version guard makes re-applying what is already there (or older) a no-op."""
    source = source_make("feed")
    newer = inbox_make(
        source=source,
        resource=patient_resource("p9", version="2", family="New"),
        ehr_last_updated=datetime(2025, 1, 2, tzinfo=UTC),
    )
    older = inbox_make(
        source=source,
        status=Status.DEAD,
        resource=patient_resource("p9", version="1", family="Old"),
        ehr_last_updated=datetime(2025, 1, 1, tzinfo=UTC),
    )
    with django_capture_on_commit_callbacks(execute=True):
        inbox_retry(message_ids=[newer.pk], by=admin)  # version 2 is applied first
    with django_capture_on_commit_callbacks(execute=True):
        inbox_replay(filters={}, by=admin)
        inbox_replay(filters={}, by=admin)
    older.refresh_from_db()
    assert (older.status, older.outcome) == (Status.PROCESSED, "unchanged")
    row = Patient.objects.get(fhir_id="p9")
    assert (row.family, row.version_id, row.revision) == ("New", "2", 1)


def test_a_broker_outage_leaves_the_message_for_the_sweeper(admin, django_capture_on_commit_callbacks, caplog):
    message = inbox_make(status=Status.DEAD)
    with (
        mock.patch.object(inbox_process_task, "delay", side_effect=ConnectionError("broker down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert inbox_retry(message_ids=[message.pk], by=admin) == 1
    message.refresh_from_db()
    assert message.status == Status.RECEIVED
    assert "sweeper" in caplog.text


def test_only_integration_admins_may_retry_or_replay(make_user):
    scheduler = make_user(Role.SCHEDULER)
    message = inbox_make(status=Status.DEAD)
    with pytest.raises(PermissionDenied):
        inbox_retry(message_ids=[message.pk], by=scheduler)
    with pytest.raises(PermissionDenied):
        inbox_replay(filters={}, by=scheduler)
    with pytest.raises(PermissionDenied):
        outbox_retry(message_ids=[1], by=scheduler)
    message.refresh_from_db()
    assert message.status == Status.DEAD


def test_the_log_line_has_ids_and_counts_but_no_patient_data(admin, caplog):
    message = inbox_make(status=Status.DEAD, resource=patient_resource("mrn-12345", family="Zebediah"))
    with caplog.at_level(logging.INFO, logger="apps.ehr.services.replay"):
        inbox_retry(message_ids=[message.pk], by=admin)
    line = next(r.getMessage() for r in caplog.records if r.name == "apps.ehr.services.replay")
    assert f"ids={message.pk}" in line and "retried 1 message" in line and "previous_attempts=5" in line
    assert "Zebediah" not in caplog.text and "mrn-12345" not in caplog.text


def test_outbox_retry_goes_through_the_outbox_service(admin, monkeypatch):
    calls = []
    fake = types.ModuleType("apps.ehr.services.outbox")
    fake.outbox_retry = lambda *, message_ids, by: calls.append((message_ids, by)) or len(message_ids)
    monkeypatch.setitem(sys.modules, "apps.ehr.services.outbox", fake)
    assert outbox_retry(message_ids=[3, 4], by=admin) == 2
    assert calls == [([3, 4], admin)]
