"""Referrals created and advanced by the EHR, through the real ingestion path."""

import pytest

from apps.ehr.models import InboxMessage
from apps.referrals.models import Referral
from apps.referrals.workflow import State
from apps.workflow.models import Transition
from tests.plugins.referral_feed import appointment, feed, make_source, service_request, task

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(db):
    return make_source()[0]


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_a_referral_service_request_creates_one_referral_in_triage(source, capture):
    feed(source, service_request(priority="urgent"), capture=capture)
    referral = Referral.objects.get()
    assert (referral.state, referral.queue, referral.priority, referral.site.code) == (
        State.RECEIVED, "triage", "urgent", "north",
    )  # fmt: skip
    assert referral.patient_ref == "Patient/p1" and referral.specialty == "http://snomed.info/sct|394579002"
    assert referral.reason == "Chest pain on exertion" and referral.due_at > referral.opened_at
    log = Transition.objects.get()
    assert (log.transition, log.to_state, log.source) == ("receive", "received", "ehr")


def test_a_service_request_that_is_not_a_referral_is_left_alone(source, capture):
    lab = service_request(category=[{"coding": [{"system": "http://snomed.info/sct", "code": "108252007"}]}])
    [message] = feed(source, lab, capture=capture)
    assert message.status == InboxMessage.Status.PROCESSED and not Referral.objects.exists()


def test_a_new_version_updates_the_referral_and_shows_on_its_timeline(source, capture):
    feed(source, service_request(version="1"), service_request(version="2", priority="stat"), capture=capture)
    referral = Referral.objects.get()
    assert referral.priority == "stat" and referral.priority_rank == 0
    update = Transition.objects.get(transition="ehr_update")
    assert "priority routine → stat" in update.reason and "version 2" in update.reason


def test_revoked_in_the_ehr_cancels(source, capture):
    feed(source, service_request(version="1"), service_request(version="2", status="revoked"), capture=capture)
    referral = Referral.objects.get()
    assert referral.state == State.CANCELLED and not referral.is_open and referral.closed_at


def test_booked_appointment_schedules_and_fulfilled_completes(source, capture):
    feed(source, service_request(), appointment(status="booked"), capture=capture)
    referral = Referral.objects.get()
    assert (referral.state, referral.appointment_ref, referral.queue) == (
        State.SCHEDULED,
        "Appointment/a1",
        "scheduled",
    )
    feed(source, appointment(status="fulfilled", version="2"), capture=capture)
    referral.refresh_from_db()
    assert referral.state == State.COMPLETED and not referral.is_open


def test_no_show_goes_back_to_scheduling(source, capture):
    feed(source, service_request(), appointment(), appointment(status="noshow", version="2"), capture=capture)
    referral = Referral.objects.get()
    assert referral.state == State.SCHEDULING and referral.appointment_ref == ""
    assert Transition.objects.filter(transition="unschedule", reason__contains="noshow").exists()


def test_finished_encounter_for_the_appointment_completes(source, capture):
    encounter = {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "AMB"},
                 "appointment": [{"reference": "Appointment/a1"}], "subject": {"reference": "Patient/p1"}}  # fmt: skip
    feed(source, service_request(), appointment(), encounter, capture=capture)
    assert Referral.objects.get().state == State.COMPLETED


def test_the_referrers_task_is_linked_whichever_arrives_first(source, capture):
    feed(source, task("t-early", sr_id="sr1"), service_request("sr1"), capture=capture)
    assert Referral.objects.get(service_request__fhir_id="sr1").task_ref == "Task/t-early"
    feed(source, service_request("sr2", patient="p2"), task("t-late", sr_id="sr2"), capture=capture)
    assert Referral.objects.get(service_request__fhir_id="sr2").task_ref == "Task/t-late"


def test_the_referrer_cancelling_the_task_cancels_the_referral(source, capture):
    feed(source, service_request(), task(), task(status="cancelled", version="2"), capture=capture)
    assert Referral.objects.get().state == State.CANCELLED


def test_same_patient_and_specialty_is_flagged_as_a_possible_duplicate(source, capture):
    feed(source, service_request("sr1"), service_request("sr2"), capture=capture)
    first, second = Referral.objects.order_by("id")
    assert second.possible_duplicate_of == first and first.possible_duplicate_of is None


def test_without_a_route_the_message_fails_with_a_clear_error_and_replays_later(capture, db):
    from apps.ehr.services.sources import source_upsert

    lonely, _ = source_upsert(name="no-route")
    [message] = feed(lonely, service_request(), capture=capture)
    assert message.status == InboxMessage.Status.FAILED and "No referral route" in message.last_error
    assert not Referral.objects.exists()
