"""Handlers in batches: the changes of one batch are applied together, in version order per
resource, and a handler's failure fails only its own message."""

import pytest

from apps.ehr.handlers import handler_register, handler_unregister
from apps.ehr.models import InboxMessage, Patient
from apps.ehr.services.inbox import inbox_process, inbox_receive

pytestmark = pytest.mark.django_db
Status = InboxMessage.Status


def patient(pid, version="1", when="2025-01-01T00:00:00Z", family="Doe"):
    return {"resourceType": "Patient", "id": pid, "meta": {"versionId": version, "lastUpdated": when},
            "name": [{"family": family}]}  # fmt: skip


def bundle(*resources):
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


@pytest.fixture
def seen():
    """The changes handed to a Patient handler, as (id, family, outcome, stored family)."""
    changes = []

    def handler(change):
        if change.resource["name"][0]["family"] == "Refused":
            raise RuntimeError("the workflow refused this one")
        changes.append((change.resource_id, change.resource["name"][0]["family"], change.outcome,
                        change.record.family))  # fmt: skip

    handler_register("Patient", handler)
    yield changes
    handler_unregister("Patient", handler)


def test_a_failing_change_fails_alone_and_the_rest_of_the_batch_is_applied(ehr_source, seen):
    body = bundle(patient("p1", family="Ok"), patient("p2", family="Refused"), patient("p3", family="Fine"))
    receipt = inbox_receive(source=ehr_source, body=body, channel="webhook", process=False)
    inbox_process(message_ids=receipt.new_ids)
    messages = InboxMessage.objects.in_bulk(receipt.new_ids)
    states = [(messages[i].resource_id, messages[i].status, messages[i].attempts) for i in receipt.new_ids]
    assert states == [("p1", Status.PROCESSED, 1), ("p2", Status.FAILED, 1), ("p3", Status.PROCESSED, 1)]
    assert "the workflow refused this one" in messages[receipt.new_ids[1]].last_error
    # The refused change left nothing behind; the others were applied, each with its row. (The
    # first try of the batch was undone when p2 failed, so handlers must be idempotent.)
    assert set(Patient.objects.values_list("fhir_id", flat=True)) == {"p1", "p3"}
    assert seen[-2:] == [("p1", "Ok", "new", "Ok"), ("p3", "Fine", "new", "Fine")]


def test_versions_dequeued_newest_first_are_handed_over_oldest_first(ehr_source, seen):
    body = bundle(
        patient("p1", version="2", when="2025-01-02T00:00:00Z", family="Second"),
        patient("p1", version="1", when="2025-01-01T00:00:00Z", family="First"),
    )
    receipt = inbox_receive(source=ehr_source, body=body, channel="webhook", process=False)
    inbox_process(message_ids=receipt.new_ids)
    assert [(pid, family, outcome) for pid, family, outcome, _ in seen] == [
        ("p1", "First", "new"),
        ("p1", "Second", "updated"),
    ]
    assert Patient.objects.get().family == "Second"
    assert set(InboxMessage.objects.values_list("status", flat=True)) == {Status.PROCESSED}
