"""Booking from clinops against a real FHIR server process (sekmet on 127.0.0.1, the one the EHR
sync tests use): live slot search, book through the outbox, the EHR's Appointment schedules the
referral through ingestion, a retry books nothing twice, a taken slot is refused, and a rebook
cancels the old appointment on the EHR.

Here, not in apps/referrals/tests: the FHIR server fixture is the ehr tests' own, and app tests
do not import another app's tests (tests/ sits outside the layers)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.roles import Role
from apps.ehr.client import FhirClient
from apps.ehr.models import Appointment as StoredAppointment
from apps.ehr.models import OutboxMessage
from apps.ehr.services.outbox import outbox_send
from apps.ehr.tests.fhir_server import fhir_server  # noqa: F401 - the fixture: a real FHIR server
from apps.referrals import services
from apps.referrals.models import Referral
from apps.referrals.services.booking import SLOT_HOLD_SYSTEM, referral_book, referral_free_slots
from apps.referrals.workflow import State
from apps.workflow.models import Transition
from tests.plugins.core import UserFactory
from tests.plugins.referral_feed import CARDIOLOGY, feed, make_source, service_request

pytestmark = pytest.mark.django_db


def _at(days: int, hour: int) -> str:
    moment = (timezone.now() + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def fhir(fhir_server):  # noqa: F811 - the fixture above
    with FhirClient(base_url=fhir_server) as client:
        yield client


@pytest.fixture
def ehr(fhir):
    """On the EHR: a cardiologist's schedule at a clinic with three free slots, and a patient."""
    practitioner = fhir.create({"resourceType": "Practitioner", "name": [{"family": "Adeyemi", "given": ["Ngozi"]}]})
    location = fhir.create({"resourceType": "Location", "name": "North Clinic, room 4"})
    patient = fhir.create({"resourceType": "Patient", "name": [{"family": "Okafor", "given": ["Amaka"]}]})
    schedule = fhir.create({
        "resourceType": "Schedule", "active": True, "specialty": [CARDIOLOGY],
        "actor": [{"reference": f"Practitioner/{practitioner.body['id']}"},
                  {"reference": f"Location/{location.body['id']}"}],
    }).body  # fmt: skip
    slots = [
        fhir.create({
            "resourceType": "Slot", "schedule": {"reference": f"Schedule/{schedule['id']}"}, "status": "free",
            "start": _at(days, 9), "end": _at(days, 10),
        }).body
        for days in (2, 3, 4)
    ]  # fmt: skip
    return {"patient": patient.body["id"], "slots": slots, "people": (practitioner.body, location.body)}


@pytest.fixture
def setup(django_capture_on_commit_callbacks, fhir_server, ehr):  # noqa: F811
    capture = django_capture_on_commit_callbacks
    source, site = make_source()
    source.base_url = fhir_server
    source.save()
    feed(source, *ehr["people"], capture=capture)
    feed(source, service_request("sr1", patient=ehr["patient"]), service_request("sr2", patient=ehr["patient"]),
         capture=capture)  # fmt: skip
    scheduler = UserFactory(role=Role.SCHEDULER, sites=[site])
    referrals = []
    for referral in Referral.objects.order_by("pk"):
        services.referral_triage(referral_id=referral.pk, by=scheduler)
        services.referral_accept(referral_id=referral.pk, by=scheduler)
        services.referral_start_scheduling(referral_id=referral.pk, by=scheduler)
        referrals.append(Referral.objects.get(pk=referral.pk))
    return referrals, scheduler, capture


def _send(capture, message: OutboxMessage) -> OutboxMessage:
    with capture(execute=True):
        return outbox_send(message_id=message.pk)


def _holding(fhir, slot: dict) -> list[dict]:
    """The EHR's appointments that hold ``slot`` (by the conditional create's identifier)."""
    [page] = list(fhir.search_pages("Appointment", {"identifier": f"{SLOT_HOLD_SYSTEM}|{slot['id']}-v1"}))
    return [e["resource"] for e in page.get("entry") or []]


def test_book_a_live_slot_the_ehr_confirms_and_a_retry_books_nothing_twice(setup, fhir, ehr):
    (referral, _), scheduler, capture = setup
    found = referral_free_slots(referral=referral, live=True)
    assert [s.ref for s in found] == [f"Slot/{s['id']}" for s in ehr["slots"]]
    assert found[0].live and found[0].practitioner == "Ngozi Adeyemi"  # the names from the store
    with capture(execute=False):
        referral_book(referral_id=referral.pk, by=scheduler, slot_ref=found[0].ref)
    message = OutboxMessage.objects.get(resource_type="Appointment")
    sent = _send(capture, message)
    assert (sent.status, sent.response_status) == (OutboxMessage.Status.SENT, 201)
    referral.refresh_from_db()
    [on_ehr] = _holding(fhir, ehr["slots"][0])
    assert (referral.state, referral.appointment_ref) == (State.SCHEDULED, f"Appointment/{on_ehr['id']}")
    assert on_ehr["status"] == "booked" and on_ehr["basedOn"] == [{"reference": "ServiceRequest/sr1"}]
    # The send's result was lost (say the worker died): the retry finds the booking, makes no second one.
    OutboxMessage.objects.filter(pk=message.pk).update(status=OutboxMessage.Status.PENDING, attempts=0)
    again = _send(capture, message)
    assert again.status == OutboxMessage.Status.SENT and again.response_status == 200
    assert len(_holding(fhir, ehr["slots"][0])) == 1
    referral.refresh_from_db()
    assert referral.state == State.SCHEDULED


def test_a_slot_already_held_on_the_ehr_is_refused_with_the_next_free_slots(setup, fhir, ehr):
    (_, second), scheduler, capture = setup
    slot = ehr["slots"][0]
    # Another booking holds the slot on the EHR, and clinops has not heard of it yet.
    fhir.create({
        "resourceType": "Appointment", "status": "booked", "slot": [{"reference": f"Slot/{slot['id']}"}],
        "identifier": [{"system": SLOT_HOLD_SYSTEM, "value": f"{slot['id']}-v1"}],
        "basedOn": [{"reference": "ServiceRequest/someone-else"}],
        "participant": [{"actor": {"reference": f"Patient/{ehr['patient']}"}, "status": "accepted"}],
    })  # fmt: skip
    with capture(execute=False):
        referral_book(referral_id=second.pk, by=scheduler, slot_ref=f"Slot/{slot['id']}")
    _send(capture, OutboxMessage.objects.get(resource_type="Appointment"))
    second.refresh_from_db()
    assert (second.state, second.appointment_ref) == (State.SCHEDULING, "")
    refused = Transition.objects.get(item_id=second.pk, transition="booking_refused")
    assert refused.reason.startswith("The slot is already taken in the EHR. Next free slots:")
    assert len(_holding(fhir, slot)) == 1  # nothing booked twice


def test_two_holders_on_the_ehr_is_a_412_and_a_refusal(setup, fhir, ehr):
    (referral, _), scheduler, capture = setup
    slot = ehr["slots"][1]
    for _ in range(2):
        fhir.create({
            "resourceType": "Appointment", "status": "booked",
            "identifier": [{"system": SLOT_HOLD_SYSTEM, "value": f"{slot['id']}-v1"}],
            "participant": [{"actor": {"reference": f"Patient/{ehr['patient']}"}, "status": "accepted"}],
        })  # fmt: skip
    with capture(execute=False):
        referral_book(referral_id=referral.pk, by=scheduler, slot_ref=f"Slot/{slot['id']}")
    sent = _send(capture, OutboxMessage.objects.get(resource_type="Appointment"))
    assert (sent.status, sent.response_status) == (OutboxMessage.Status.DEAD, 412)
    referral.refresh_from_db()
    assert referral.state == State.SCHEDULING


def test_rebook_books_the_new_slot_then_cancels_the_old_appointment_on_the_ehr(setup, fhir, ehr):
    (referral, _), scheduler, capture = setup
    early, later = ehr["slots"][0], ehr["slots"][2]
    with capture(execute=False):
        referral_book(referral_id=referral.pk, by=scheduler, slot_ref=f"Slot/{later['id']}")
    _send(capture, OutboxMessage.objects.get(resource_type="Appointment"))
    referral.refresh_from_db()
    old = referral.appointment_ref
    with capture(execute=False):
        referral_book(referral_id=referral.pk, by=scheduler, slot_ref=f"Slot/{early['id']}")
    referral.refresh_from_db()
    assert (referral.state, referral.appointment_ref) == (State.BOOKING, old)  # kept until the new one is booked
    _send(capture, OutboxMessage.objects.get(resource_type="Appointment", operation="create", status="pending"))
    referral.refresh_from_db()
    [new] = _holding(fhir, early)
    assert (referral.state, referral.appointment_ref) == (State.SCHEDULED, f"Appointment/{new['id']}")
    cancel = OutboxMessage.objects.get(resource_type="Appointment", operation="update")
    _send(capture, cancel)
    assert fhir.read("Appointment", old.split("/")[1])["status"] == "cancelled"


def _cancelled_while_booking(capture, referral, scheduler, slot: dict) -> OutboxMessage:
    with capture(execute=False):
        referral_book(referral_id=referral.pk, by=scheduler, slot_ref=f"Slot/{slot['id']}")
        services.referral_cancel(referral_id=referral.pk, by=scheduler, reason="The patient moved away")
    return OutboxMessage.objects.get(resource_type="Appointment", operation="create")


def test_a_referral_cancelled_before_the_ehr_answered_withdraws_its_appointment(setup, fhir, ehr):
    (referral, _), scheduler, capture = setup
    slot = ehr["slots"][0]
    create = _cancelled_while_booking(capture, referral, scheduler, slot)
    assert not OutboxMessage.objects.filter(operation="update", resource_type="Appointment").exists()  # no id yet
    _send(capture, create)  # the EHR books it; its answer finds the referral cancelled
    [booked] = _holding(fhir, slot)
    withdraw = OutboxMessage.objects.get(resource_type="Appointment", operation="update")
    assert withdraw.resource_id == booked["id"]
    assert _send(capture, withdraw).status == OutboxMessage.Status.SENT
    on_ehr = fhir.read("Appointment", booked["id"])
    assert on_ehr["status"] == "cancelled"
    assert on_ehr["cancelationReason"] == {"text": "Referral cancelled: The patient moved away"}
    referral.refresh_from_db()
    assert (referral.state, referral.appointment_ref) == (State.CANCELLED, "")
    assert Transition.objects.filter(item_id=referral.pk, transition="booking_withdrawn").count() == 1
    # The store hears it too (the withdrawal's answer went through ingestion): the slot is not held.
    assert StoredAppointment.objects.get(fhir_id=booked["id"]).status == "cancelled"


def test_a_cancel_after_the_ehr_answered_withdraws_at_once(setup, fhir, ehr, monkeypatch):
    (referral, _), scheduler, capture = setup
    slot = ehr["slots"][1]
    with capture(execute=False):
        referral_book(referral_id=referral.pk, by=scheduler, slot_ref=f"Slot/{slot['id']}")
    # The EHR booked it, but the listener never ran (the worker died after recording the answer).
    monkeypatch.setattr("apps.ehr.services.outbox._tell_listeners", lambda *a: None)
    _send(capture, OutboxMessage.objects.get(resource_type="Appointment", operation="create"))
    monkeypatch.undo()
    referral.refresh_from_db()
    assert referral.state == State.BOOKING
    with capture(execute=False):
        services.referral_cancel(referral_id=referral.pk, by=scheduler, reason="Referrer withdrew it")
    [booked] = _holding(fhir, slot)
    withdraw = OutboxMessage.objects.get(resource_type="Appointment", operation="update")
    _send(capture, withdraw)
    assert fhir.read("Appointment", booked["id"])["status"] == "cancelled"


def test_a_withdrawal_never_cancels_someone_elses_appointment(setup, fhir, ehr, monkeypatch):
    (referral, _), scheduler, capture = setup
    slot = ehr["slots"][2]
    theirs = fhir.create({
        "resourceType": "Appointment", "status": "booked", "slot": [{"reference": f"Slot/{slot['id']}"}],
        "identifier": [{"system": SLOT_HOLD_SYSTEM, "value": f"{slot['id']}-v1"}],
        "basedOn": [{"reference": "ServiceRequest/someone-else"}],
        "participant": [{"actor": {"reference": f"Patient/{ehr['patient']}"}, "status": "accepted"}],
    }).body  # fmt: skip
    with capture(execute=False):
        referral_book(referral_id=referral.pk, by=scheduler, slot_ref=f"Slot/{slot['id']}")
    # The conditional create finds their appointment; the listener that would refuse it never ran.
    monkeypatch.setattr("apps.ehr.services.outbox._tell_listeners", lambda *a: None)
    sent = _send(capture, OutboxMessage.objects.get(resource_type="Appointment", operation="create"))
    monkeypatch.undo()
    assert sent.resource_id == theirs["id"]
    with capture(execute=False):
        services.referral_cancel(referral_id=referral.pk, by=scheduler, reason="Duplicate")
    withdraw = _send(capture, OutboxMessage.objects.get(resource_type="Appointment", operation="update"))
    assert withdraw.status == OutboxMessage.Status.DEAD
    assert "not the one the cancelled referral booked" in withdraw.last_error
    assert fhir.read("Appointment", theirs["id"])["status"] == "booked"
