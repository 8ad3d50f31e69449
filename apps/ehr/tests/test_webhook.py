"""POST /integrations/<source>/fhir: 202 with a receipt, or an OperationOutcome that says why not."""

import gzip
import json

import pytest
from django.urls import reverse

from apps.ehr.models import InboxEnvelope, InboxMessage, Patient

pytestmark = pytest.mark.django_db
PATIENT = {"resourceType": "Patient", "id": "p1", "meta": {"versionId": "1"}, "name": [{"family": "Doe"}]}


def post(client, source, body, *, token=None, content_type="application/fhir+json", **extra):
    token = source.token if token is None else token
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    url = reverse("ehr-webhook", args=[source.name])
    return client.post(url, data=data, content_type=content_type, **headers, **extra)


def issue(response):
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


def test_a_resource_is_stored_before_the_answer_and_processed(client, ehr_source, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, ehr_source, PATIENT, HTTP_X_CORRELATION_ID="corr-42")
    assert response.status_code == 202
    receipt = response.json()
    assert receipt["correlationId"] == "corr-42" and response["X-Correlation-ID"] == "corr-42"
    assert receipt["messages"] == [
        {
            "id": InboxMessage.objects.get().pk,
            "resourceType": "Patient",
            "resourceId": "p1",
            "operation": "upsert",
            "duplicate": False,
        }
    ]
    envelope = InboxEnvelope.objects.get()
    assert bytes(envelope.raw) == json.dumps(PATIENT).encode()
    assert Patient.objects.get().family == "Doe"


def test_a_bundle_gives_a_receipt_line_per_entry_and_a_resend_is_marked_duplicate(client, ehr_source):
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": PATIENT}, {"resource": {**PATIENT, "id": "p2"}}],
    }
    first = post(client, ehr_source, bundle).json()
    again = post(client, ehr_source, bundle).json()
    assert (first["stored"], first["duplicates"]) == (2, 0)
    assert (again["stored"], again["duplicates"]) == (0, 2)
    assert InboxMessage.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "says"),
    [(b"{oops", "Malformed JSON"), (b'{"hello": "world"}', "no resourceType"), (b"  \n", "empty")],
)
def test_not_fhir_is_400_with_an_operation_outcome_and_nothing_stored(client, ehr_source, body, says):
    response = post(client, ehr_source, body)
    assert response.status_code == 400
    assert says in issue(response)["diagnostics"]
    assert not InboxMessage.objects.exists()


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_missing_or_wrong_token_is_401(client, ehr_source, token):
    response = post(client, ehr_source, PATIENT, token=token)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert issue(response)["code"] == "login"
    assert not InboxEnvelope.objects.exists()


def test_an_unknown_or_inactive_source_is_401_not_a_hint(client, ehr_source):
    ehr_source.is_active = False
    ehr_source.save()
    assert post(client, ehr_source, PATIENT).status_code == 401


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x"])
def test_wrong_content_type_is_415(client, ehr_source, content_type):
    response = post(client, ehr_source, b"{}", content_type=content_type)
    assert response.status_code == 415
    assert "application/fhir+json" in issue(response)["diagnostics"]


def test_json_with_charset_is_accepted(client, ehr_source):
    assert post(client, ehr_source, PATIENT, content_type="application/json; charset=utf-8").status_code == 202


def test_too_large_is_413(client, ehr_source, settings):
    settings.EHR_WEBHOOK_MAX_BYTES = 1000
    big = {**PATIENT, "text": {"status": "generated", "div": "<div>" + "x" * 2000 + "</div>"}}
    response = post(client, ehr_source, big)
    assert response.status_code == 413
    assert "1000" in issue(response)["diagnostics"]
    assert not InboxMessage.objects.exists()


def test_get_is_405(client, ehr_source):
    response = client.get(reverse("ehr-webhook", args=[ehr_source.name]))
    assert response.status_code == 405 and issue(response)["code"] == "not-supported"


def test_gzip_bytes_are_not_json(client, ehr_source):
    response = post(client, ehr_source, gzip.compress(b"{}"))
    assert response.status_code == 400 and "not UTF-8" in issue(response)["diagnostics"]


def test_database_down_is_503_and_asks_for_a_resend(client, ehr_source, monkeypatch):
    from django.db import OperationalError

    def refuse(**kwargs):
        raise OperationalError("could not connect")

    monkeypatch.setattr("apps.ehr.webhook.inbox_receive", refuse)
    response = post(client, ehr_source, PATIENT)
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert "send it again" in issue(response)["diagnostics"]
