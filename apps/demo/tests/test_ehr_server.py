"""The simulated EHR's Task endpoint: the demo's referral write-backs are delivered, not dead letters."""

import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.demo.generator import SPECIALTIES
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


# --- booking (issue 15) -------------------------------------------------------------------


def test_the_demo_schedule_is_weekday_slots_per_specialist_with_stable_ids():
    from datetime import date

    from apps.demo.schedule import demo_schedule

    first = demo_schedule(today=date(2026, 3, 6), days=2)  # a Friday: Monday and Tuesday follow
    assert first == demo_schedule(today=date(2026, 3, 6), days=2)
    slots = [r for r in first if r["resourceType"] == "Slot"]
    assert {s["start"][:10] for s in slots} == {"2026-03-09", "2026-03-10"}
    schedules = [r for r in first if r["resourceType"] == "Schedule"]
    assert {a["reference"] for a in schedules[0]["actor"]} == {"Practitioner/prac-394579002-0", "Location/loc-north"}


def test_a_booking_is_created_once_and_a_taken_slot_is_a_409(client, demo_task):
    from urllib.parse import urlencode

    url = reverse("demo:ehr-appointment-create")
    auth = {"HTTP_AUTHORIZATION": "Bearer s3cret"}

    def book(identifier: str, sr: str) -> object:
        body = {
            "resourceType": "Appointment", "status": "booked", "slot": [{"reference": "Slot/s1"}],
            "identifier": [{"system": "http://clinops.example.org/fhir/slot-hold", "value": identifier}],
            "basedOn": [{"reference": f"ServiceRequest/{sr}"}], "participant": [],
        }  # fmt: skip
        header = urlencode({"identifier": f"http://clinops.example.org/fhir/slot-hold|{identifier}"})
        return client.post(url, json.dumps(body), content_type="application/fhir+json", HTTP_IF_NONE_EXIST=header,
                           **auth)  # fmt: skip

    assert client.post(url, "{}", content_type="application/fhir+json").status_code == 401
    first = book("s1-v1", "sr1")
    assert first.status_code == 201 and first.json()["status"] == "booked"
    again = book("s1-v1", "sr1")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]  # the retry finds it
    taken = book("s1-v2", "sr2")
    assert taken.status_code == 409 and "already booked" in taken.json()["issue"][0]["diagnostics"]


@pytest.mark.django_db(transaction=True)
def test_clinops_books_on_the_simulated_ehr_and_a_slot_taken_there_comes_back_refused(live_server, settings):
    import requests

    from apps.core.roles import Role
    from apps.demo.schedule import demo_slots_publish
    from apps.ehr.services.sources import source_upsert
    from apps.referrals import services
    from apps.referrals.models import Referral
    from apps.referrals.services.booking import referral_book, referral_free_slots
    from apps.referrals.workflow import State
    from apps.workflow.models import Transition
    from tests.plugins.core import SiteFactory, UserFactory
    from tests.plugins.referral_feed import feed, make_source, service_request

    settings.DEBUG = True
    site = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    source, _ = make_source(site, name="demo-ehr")
    base = f"{live_server.url}/demo-ehr/fhir"
    source_upsert(name="demo-ehr", base_url=base, bearer_token="s3cret")
    assert demo_slots_publish() > 0
    feed(source, service_request("sr1"), service_request("sr2", patient="p2"), capture=_no_capture)
    scheduler = UserFactory(role=Role.SCHEDULER, sites=[site])
    for referral in Referral.objects.all():
        for step in (services.referral_triage, services.referral_accept, services.referral_start_scheduling):
            step(referral_id=referral.pk, by=scheduler)
    first, second = Referral.objects.order_by("pk")
    slots = referral_free_slots(referral=first)
    assert slots and slots[0].practitioner  # the demo cardiologists' schedules

    referral_book(referral_id=first.pk, by=scheduler, slot_ref=slots[0].ref)
    first.refresh_from_db()
    assert first.state == State.SCHEDULED and first.appointment_ref.startswith("Appointment/clinops-")

    # Someone books the next slot in the EHR itself; clinops has not heard of it yet.
    taken = {"resourceType": "Appointment", "status": "booked", "slot": [{"reference": slots[1].ref}]}
    answer = requests.post(f"{base}/Appointment", json=taken, headers={"Authorization": "Bearer s3cret"}, timeout=10)
    assert answer.status_code == 201
    referral_book(referral_id=second.pk, by=scheduler, slot_ref=slots[1].ref)
    second.refresh_from_db()
    assert second.state == State.SCHEDULING
    refused = Transition.objects.get(item_id=second.pk, transition="booking_refused")
    assert refused.reason.startswith("The slot is already taken in the EHR. Next free slots:")


class _no_capture:
    """``feed``'s capture for a transactional test: on-commit work already runs at once."""

    def __init__(self, execute: bool = True) -> None:
        pass

    def __enter__(self) -> "_no_capture":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.django_db(transaction=True)
def test_the_live_slot_search_finds_books_and_frees_slots_on_the_simulated_ehr(live_server, settings, monkeypatch):
    """What a scheduler's slot page does in ``make run``: GET Schedule and GET Slot on the demo
    EHR, book one (the outbox's conditional create), the slot is busy on the next search, and a
    cancelled appointment frees it again with a new version."""
    from apps.core.roles import Role
    from apps.demo import ehr_server
    from apps.ehr.services.sources import source_upsert
    from apps.referrals import services
    from apps.referrals.models import Referral
    from apps.referrals.services.booking import referral_book, referral_cancel_appointment, referral_free_slots
    from apps.referrals.workflow import State
    from tests.plugins.core import UserFactory
    from tests.plugins.referral_feed import make_source, service_request

    monkeypatch.setattr(ehr_server, "_written", {})  # what earlier tests booked on the simulated EHR
    settings.DEBUG = True
    _, site = make_source(name="demo-ehr")
    source, _ = source_upsert(name="demo-ehr", base_url=f"{live_server.url}/demo-ehr/fhir", bearer_token="s3cret")
    from apps.ehr.services.inbox import inbox_receive

    inbox_receive(source=source, body=service_request(), channel="webhook")
    referral = Referral.objects.get()
    scheduler = UserFactory(role=Role.SCHEDULER, sites=[site])
    for step in (services.referral_triage, services.referral_accept, services.referral_start_scheduling):
        step(referral_id=referral.pk, by=scheduler)
    referral.refresh_from_db()

    found = referral_free_slots(referral=referral, live=True)
    assert found and {s.practitioner_ref for s in found} == {"Practitioner/prac-394579002-0",
                                                             "Practitioner/prac-394579002-1"}  # fmt: skip
    first = found[0]
    assert first.version == "1"
    referral_book(referral_id=referral.pk, by=scheduler, slot_ref=first.ref)  # sent at commit, answered by the EHR
    referral.refresh_from_db()
    assert referral.state == State.SCHEDULED and referral.appointment_ref.startswith("Appointment/clinops-")
    auth = {"Authorization": "Bearer s3cret"}
    import requests

    busy = requests.get(f"{live_server.url}/demo-ehr/fhir/Slot", {"status": "busy"}, headers=auth, timeout=10).json()
    assert [e["resource"]["id"] for e in busy["entry"]] == [first.ref.split("/")[1]]
    assert first.ref not in [s.ref for s in referral_free_slots(referral=referral, live=True)]

    referral_cancel_appointment(referral_id=referral.pk, by=scheduler, reason="Patient asked for a later date")
    again = {s.ref: s for s in referral_free_slots(referral=referral, live=True)}
    assert again[first.ref].version == "2"  # freed: a new version, so it can be booked again


def test_the_slot_search_checks_its_parameters(client, settings, db):
    settings.DEBUG = True
    EhrSource.objects.create(name="demo-ehr", auth_type=EhrSource.Auth.BEARER, bearer_token="s3cret")
    url = reverse("demo:ehr-slot-search")
    auth = {"HTTP_AUTHORIZATION": "Bearer s3cret"}
    assert client.get(url).status_code == 401
    assert client.get(url, {"_count": "zero"}, **auth).status_code == 400
    assert client.get(url, {"start": "ge-not-a-date"}, **auth).status_code == 400
    page = client.get(url, {"status": "free", "_count": "5"}, **auth).json()
    assert page["type"] == "searchset" and len(page["entry"]) == 5 and page["total"] > 5
    following = client.get(next(link["url"] for link in page["link"] if link["relation"] == "next"), **auth).json()
    assert {e["resource"]["id"] for e in following["entry"]}.isdisjoint({e["resource"]["id"] for e in page["entry"]})
    schedules = client.get(reverse("demo:ehr-schedule-search"), **auth).json()
    assert schedules["total"] == 2 * len(SPECIALTIES)  # two clinicians per specialty
