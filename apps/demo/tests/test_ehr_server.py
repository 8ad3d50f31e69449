"""The simulated EHR's Task endpoint: the demo's referral write-backs are delivered, not dead letters."""

import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.demo.setup import demo_ehr_connect
from apps.ehr.models import EhrSource, OutboxMessage
from tests.plugins.ehr_store import store_make


@pytest.mark.django_db(transaction=True)
def test_serve_demo_delivers_the_historys_write_backs_to_the_simulated_ehr(live_server, settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo")
    call_command("demo_start", "--days", "8")
    assert "wait in the outbox" in capsys.readouterr().out
    outbox = OutboxMessage.objects.filter(source__name="demo-ehr")
    assert outbox.filter(status=OutboxMessage.Status.DEAD).count() >= 3  # no EHR to write to during the load

    queued = demo_ehr_connect(base_url=f"{live_server.url}/demo-ehr/fhir")

    assert queued == outbox.count()
    assert set(outbox.values_list("status", flat=True)) == {OutboxMessage.Status.SENT}, outbox.first().last_error
    assert all("-clinops-" in version for version in outbox.values_list("response_version", flat=True))
    assert demo_ehr_connect(base_url=f"{live_server.url}/demo-ehr/fhir") == 0  # nothing left to send


@pytest.fixture
def demo_task(db, settings):
    settings.DEBUG = True
    source = EhrSource.objects.create(name="demo-ehr", auth_type=EhrSource.Auth.BEARER, bearer_token="s3cret")
    body = {"status": "requested", "intent": "order"}
    store_make("Task", "t1", source=source, version_id="2", body=body, status="requested")
    return reverse("demo:ehr-task", kwargs={"fhir_id": "t1"})


def test_the_endpoint_checks_token_version_and_body_and_keeps_the_write(client, demo_task):
    auth = {"HTTP_AUTHORIZATION": "Bearer s3cret"}
    assert client.get(demo_task).status_code == 401
    assert client.get(demo_task, HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    read = client.get(demo_task, **auth)
    assert read.status_code == 200 and read["ETag"] == 'W/"2"'

    def put(body: object, version: str) -> object:
        data = json.dumps(body)
        return client.put(demo_task, data, content_type="application/fhir+json", HTTP_IF_MATCH=version, **auth)

    task = {**read.json(), "status": "accepted"}
    assert put(task, 'W/"1"').status_code == 412  # a stale version
    assert put({"resourceType": "Patient", "id": "t1"}, 'W/"2"').status_code == 400
    assert client.put(demo_task, "{not json", content_type="application/json", **auth).status_code == 400
    written = put(task, 'W/"2"')
    assert written.status_code == 200 and written["ETag"] == 'W/"2-clinops-1"'
    again = client.get(demo_task, **auth).json()
    assert again["status"] == "accepted" and again["meta"]["versionId"] == "2-clinops-1"
    assert put(task, 'W/"2"').status_code == 412  # the write moved the version on
    assert client.get(reverse("demo:ehr-task", kwargs={"fhir_id": "nope"}), **auth).status_code == 404


def test_the_endpoint_does_not_exist_without_debug(client, demo_task, settings):
    settings.DEBUG = False
    assert client.get(demo_task, HTTP_AUTHORIZATION="Bearer s3cret").status_code == 404


def test_the_front_desks_check_in_reaches_the_simulated_ehrs_appointment(client, settings, db):
    settings.DEBUG = True
    source = EhrSource.objects.create(name="demo-ehr", auth_type=EhrSource.Auth.BEARER, bearer_token="s3cret")
    store_make("Appointment", "a1", source=source, version_id="3", body={"status": "booked"}, status="booked")
    url = reverse("demo:ehr-appointment", kwargs={"fhir_id": "a1"})
    auth = {"HTTP_AUTHORIZATION": "Bearer s3cret"}
    assert client.get(url).status_code == 401
    read = client.get(url, **auth)
    assert read.status_code == 200 and read.json()["status"] == "booked" and read["ETag"] == 'W/"3"'
    arrived = {**read.json(), "status": "arrived"}
    written = client.put(url, arrived, content_type="application/fhir+json", HTTP_IF_MATCH='W/"3"', **auth)
    assert written.status_code == 200 and written.json()["status"] == "arrived"
    assert client.get(url, **auth).json()["status"] == "arrived"
    task_shaped = client.put(url, {**arrived, "resourceType": "Task"}, content_type="application/fhir+json", **auth)
    assert task_shaped.status_code == 400
