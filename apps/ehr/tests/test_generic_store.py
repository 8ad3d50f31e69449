"""Every R4 type is kept: types without a typed model go to the generic store, are versioned like
the others, and the FHIR read API serves them with the common search parameters."""

import json

import pytest

from apps.core.api_tokens import api_token_issue
from apps.core.models import AccessLog
from apps.core.roles import Role
from apps.ehr.models import InboxMessage, StoredResource
from apps.ehr.services.inbox import inbox_process, inbox_receive
from apps.ehr.services.sources import source_upsert

pytestmark = pytest.mark.django_db


def condition(cid: str, patient: str, version: str, updated: str, status: str = "active") -> dict:
    return {
        "resourceType": "Condition",
        "id": cid,
        "meta": {"versionId": version, "lastUpdated": updated},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": status}]},
        "code": {"text": "Asthma"},
        "subject": {"reference": f"Patient/{patient}"},
    }  # fmt: skip


@pytest.fixture
def source():
    return source_upsert(name="ehr-generic")[0]


def receive(source, *resources):
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    receipt = inbox_receive(source=source, body=json.dumps(bundle).encode(), channel="webhook", process=False)
    inbox_process(message_ids=receipt.new_ids)
    return InboxMessage.objects.in_bulk(receipt.new_ids)


@pytest.fixture
def fhir(client, make_user):
    key = api_token_issue(user=make_user(Role.INTEGRATION_ADMIN), name="test", mfa_verified=True)[1]

    def get(path, params=None):
        return client.get(path, params or {}, headers={"Authorization": f"Token {key}"})

    return get


def test_a_condition_is_stored_not_ignored(source):
    messages = receive(source, condition("c1", "p1", "1", "2024-01-01T00:00:00Z"))
    (message,) = messages.values()
    assert (message.status, message.outcome) == (InboxMessage.Status.PROCESSED, "new")
    row = StoredResource.objects.get(resource_type="Condition", fhir_id="c1")
    assert (row.version_id, row.patient_ref, row.raw["code"]["text"]) == ("1", "Patient/p1", "Asthma")


def test_versions_in_one_batch_apply_oldest_first_and_an_older_one_later_changes_nothing(source):
    messages = receive(
        source,
        condition("c1", "p1", "3", "2024-01-03T00:00:00Z", status="resolved"),
        condition("c1", "p1", "2", "2024-01-02T00:00:00Z"),
    )
    assert sorted(m.outcome for m in messages.values()) == ["new", "updated"]
    row = StoredResource.objects.get(fhir_id="c1")
    assert (row.version_id, row.revision) == ("3", 2)
    (late,) = receive(source, condition("c1", "p1", "1", "2024-01-01T00:00:00Z")).values()
    assert late.outcome == "unchanged"
    assert StoredResource.objects.get(fhir_id="c1").version_id == "3"


def test_the_same_id_of_two_types_is_two_resources(source):
    receive(source, condition("x1", "p1", "1", "2024-01-01T00:00:00Z"))
    receive(source, {"resourceType": "Procedure", "id": "x1", "status": "completed",
                     "subject": {"reference": "Patient/p2"}})  # fmt: skip
    assert set(StoredResource.objects.values_list("resource_type", "patient_ref")) == {
        ("Condition", "Patient/p1"),
        ("Procedure", "Patient/p2"),
    }


def test_a_type_that_is_not_r4_is_a_dead_letter(source):
    (message,) = receive(source, {"resourceType": "NotAThing", "id": "n1"}).values()
    assert message.status == InboxMessage.Status.DEAD
    assert "not an R4 resource type" in message.last_error


def test_fhir_api_reads_and_searches_a_generic_type(source, fhir):
    receive(
        source,
        condition("c1", "p1", "1", "2024-01-01T00:00:00Z"),
        condition("c2", "p2", "1", "2024-01-02T00:00:00Z"),
        condition("c3", "p1", "1", "2024-01-03T00:00:00Z"),
    )
    read = fhir("/fhir/Condition/c1")
    assert read.status_code == 200, read.content
    assert (read.json()["resourceType"], read.json()["id"], read["ETag"]) == ("Condition", "c1", 'W/"1"')
    assert fhir("/fhir/Condition/nope").status_code == 404
    found = fhir("/fhir/Condition", {"patient": "Patient/p1"}).json()
    assert [e["resource"]["id"] for e in found["entry"]] == ["c1", "c3"]
    assert [e["resource"]["id"] for e in fhir("/fhir/Condition", {"subject": "p2"}).json()["entry"]] == ["c2"]
    assert fhir("/fhir/Condition", {"_summary": "count"}).json()["total"] == 3
    assert [e["resource"]["id"] for e in fhir("/fhir/Condition", {"_id": "c2,c3"}).json()["entry"]] == ["c2", "c3"]
    page = fhir("/fhir/Condition", {"_count": "1", "_lastUpdated": "gt2024-01-01T12:00:00Z"}).json()
    assert (page["total"], [e["resource"]["id"] for e in page["entry"]]) == (2, ["c2"])
    assert fhir("/fhir/Procedure").json()["total"] == 0  # a type never received is an empty search
    assert fhir("/fhir/NotAThing").status_code == 404
    assert AccessLog.objects.filter(patient="Patient/p1", what="fhir:Condition/c1").exists()
