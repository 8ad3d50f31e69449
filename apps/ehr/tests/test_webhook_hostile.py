"""The webhook under hostile or unusual input: a clear 4xx, never a 500, and nothing half-stored.

Deeply nested JSON and lone surrogates (apps.core.json_input), ids that are not FHIR ids (two
129-character ids differing only in the last character once collided), chunked uploads."""

import io
import json

import pytest
from django.urls import reverse

from apps.ehr.models import InboxEnvelope, InboxMessage, Patient

from .test_webhook import PATIENT, issue, post

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("depth", [200, 100_000])
def test_json_nested_thousands_deep_is_400_saying_so(client, ehr_source, depth):
    body = b'{"resourceType":"Patient","id":"p1","extension":' + b"[" * depth + b"]" * depth + b"}"
    response = post(client, ehr_source, body)
    assert response.status_code == 400
    assert f"nests {depth + 1} levels deep; at most 100" in issue(response)["diagnostics"]
    assert not InboxEnvelope.objects.exists()


def test_a_lone_surrogate_is_400_naming_where(client, ehr_source):
    body = b'{"resourceType":"Patient","id":"p1","name":[{"family":"Do\\ud800e"}]}'
    response = post(client, ehr_source, body)
    assert response.status_code == 400
    assert "lone UTF-16 surrogate" in (said := issue(response)["diagnostics"]) and "name[0].family" in said
    assert not InboxMessage.objects.exists()


def test_a_surrogate_pair_is_a_character_and_lands(client, ehr_source, django_capture_on_commit_callbacks):
    body = b'{"resourceType":"Patient","id":"p1","name":[{"family":"Do\\ud83d\\ude00"}]}'
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, ehr_source, body).status_code == 202
    assert Patient.objects.get().family == "Do\U0001f600"


@pytest.mark.parametrize("bad_id", ["a" * 65, "a" * 129, "has space", "under_score", "ünïcode"])
def test_an_id_that_is_not_a_fhir_id_is_400_and_nothing_is_stored(client, ehr_source, bad_id):
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": PATIENT}, {"resource": {**PATIENT, "id": bad_id}}],
    }
    response = post(client, ehr_source, bundle)
    assert response.status_code == 400
    said = issue(response)
    assert "is not a FHIR id: 1 to 64 characters" in said["diagnostics"]
    assert said["expression"] == ["entry[1].id"]
    assert not InboxMessage.objects.exists()


def test_two_long_ids_differing_in_the_last_character_no_longer_collide(client, ehr_source):
    first, second = "a" * 128 + "1", "a" * 128 + "2"
    answers = [post(client, ehr_source, {**PATIENT, "id": pid}) for pid in (first, second)]
    assert [a.status_code for a in answers] == [400, 400]
    assert "(129 characters)" in issue(answers[1])["diagnostics"]


def test_an_id_of_64_characters_is_a_fhir_id(client, ehr_source):
    assert post(client, ehr_source, {**PATIENT, "id": "A-." + "9" * 61}).status_code == 202


def _chunked(client, source, body: bytes, *, terminated: bool = True):
    """A chunked upload as gunicorn hands it over: no Content-Length, the decoded body on
    wsgi.input, and ``wsgi.input_terminated`` saying it may be read to the end."""
    environ = {"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked"}
    if terminated:
        environ["wsgi.input_terminated"] = True
    return client.post(
        reverse("ehr-webhook", args=[source.name]),
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {source.token}",
        **environ,
    )


def test_a_chunked_upload_is_read_and_stored(client, ehr_source):
    response = _chunked(client, ehr_source, json.dumps(PATIENT).encode())
    assert response.status_code == 202, response.content
    assert response.json()["stored"] == 1
    assert bytes(InboxEnvelope.objects.get().raw) == json.dumps(PATIENT).encode()


def test_a_chunked_upload_over_the_limit_is_413(client, ehr_source, settings):
    settings.EHR_WEBHOOK_MAX_BYTES = 1000
    response = _chunked(client, ehr_source, json.dumps({**PATIENT, "text": "x" * 5000}).encode())
    assert response.status_code == 413
    assert not InboxEnvelope.objects.exists()


def test_chunks_a_server_did_not_decode_are_411_not_an_empty_body(client, ehr_source):
    response = _chunked(client, ehr_source, json.dumps(PATIENT).encode(), terminated=False)
    assert response.status_code == 411
    assert "send Content-Length" in issue(response)["diagnostics"]
