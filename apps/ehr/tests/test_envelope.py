"""Splitting deliveries into inbox entries (no database)."""

import json

import pytest

from apps.ehr.services.envelope import EnvelopeError, parse_body, split

PATIENT = {"resourceType": "Patient", "id": "p1", "meta": {"versionId": "3", "lastUpdated": "2025-01-02T03:04:05Z"}}


def test_a_single_resource_is_one_upsert_with_its_version():
    [entry] = split(PATIENT)
    assert (entry.operation, entry.resource_type, entry.resource_id, entry.version_id) == (
        "upsert",
        "Patient",
        "p1",
        "3",
    )
    assert json.loads(entry.payload) == PATIENT


@pytest.mark.parametrize("bundle_type", ["transaction", "batch", "collection", "searchset", "history", "message"])
def test_bundle_entries_become_messages(bundle_type):
    bundle = {
        "resourceType": "Bundle",
        "type": bundle_type,
        "entry": [{"resource": PATIENT}, {"resource": {**PATIENT, "id": "p2"}}],
    }
    assert [e.resource_id for e in split(bundle)] == ["p1", "p2"]


def test_transaction_delete_names_the_resource_and_version():
    bundle = {
        "resourceType": "Bundle",
        "type": "history",
        "entry": [
            {
                "request": {"method": "DELETE", "url": "Task/t1"},
                "response": {"status": "204", "etag": 'W/"7"', "lastModified": "2025-02-01T00:00:00Z"},
            },
        ],
    }
    [entry] = split(bundle)
    assert (entry.operation, entry.resource_type, entry.resource_id, entry.version_id) == ("delete", "Task", "t1", "7")
    assert entry.last_updated == "2025-02-01T00:00:00Z"


def test_r4b_subscription_notification_skips_the_status_and_fetches_id_only_entries():
    bundle = {
        "resourceType": "Bundle",
        "type": "subscription-notification",
        "entry": [
            {"resource": {"resourceType": "SubscriptionStatus", "status": "active", "type": "event-notification"}},
            {"fullUrl": "https://ehr.example.org/fhir/ServiceRequest/sr9"},
            {"fullUrl": "https://ehr.example.org/fhir/Patient/p1", "resource": PATIENT},
        ],
    }
    entries = split(bundle)
    assert [(e.operation, e.resource_type, e.resource_id) for e in entries] == [
        ("fetch", "ServiceRequest", "sr9"),
        ("upsert", "Patient", "p1"),
    ]


def test_r4_backport_notification_skips_the_parameters_status_entry():
    bundle = {
        "resourceType": "Bundle",
        "type": "history",
        "entry": [
            {"resource": {"resourceType": "Parameters", "parameter": [{"name": "status", "valueCode": "active"}]}},
            {"fullUrl": "Patient/p1", "resource": PATIENT, "request": {"method": "PUT", "url": "Patient/p1"}},
        ],
    }
    assert [e.resource_id for e in split(bundle)] == ["p1"]


def test_message_bundle_skips_the_header():
    bundle = {
        "resourceType": "Bundle",
        "type": "message",
        "entry": [
            {"resource": {"resourceType": "MessageHeader", "eventCoding": {"code": "admin-notify"}}},
            {"resource": PATIENT},
        ],
    }
    assert [e.resource_type for e in split(bundle)] == ["Patient"]


def test_a_create_without_id_takes_the_urn_uuid_or_its_content_hash():
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:5f1c6c1e-0000-4000-8000-000000000001", "resource": {"resourceType": "Patient"}},
            {"resource": {"resourceType": "Patient", "gender": "female"}},
        ],
    }
    first, second = split(bundle)
    assert first.resource_id == "5f1c6c1e-0000-4000-8000-000000000001"
    assert second.resource_id.startswith("sha-") and split(bundle)[1].resource_id == second.resource_id


def test_the_same_version_has_the_same_key_whatever_the_whitespace():
    spaced = json.dumps(PATIENT, indent=4).encode()
    assert split(parse_body(spaced))[0].idempotency_key(1) == split(PATIENT)[0].idempotency_key(1)
    assert split(PATIENT)[0].idempotency_key(1) != split(PATIENT)[0].idempotency_key(2)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "empty"),
        (b"{not json", "Malformed JSON at line 1, column 2"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "not a FHIR resource"),
        (b'{"name": "x"}', "no resourceType"),
        (b'{"resourceType": "Bundle", "entry": {}}', "Bundle.entry must be a list"),
        (b'{"resourceType": "Bundle", "entry": [3]}', "Bundle.entry[0] is not an object"),
        (b'{"resourceType": "Bundle", "type": "batch", "entry": [{"resource": {"id": "x"}}]}', "no resourceType"),
        (
            b'{"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "DELETE", "url": "nope"}}]}',
            "must name the deleted resource",
        ),
    ],
)
def test_a_broken_envelope_says_what_is_wrong(body, says):
    with pytest.raises(EnvelopeError, match=says.replace("[", r"\[").replace("]", r"\]")):
        split(parse_body(body))
