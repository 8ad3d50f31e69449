"""Intakes created, moved, cancelled and ticked by the EHR, through the real ingestion path."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.ehr.models import InboxMessage
from apps.intake.models import Intake
from apps.intake.workflow import State
from apps.workflow.models import Transition
from tests.plugins.intake_feed import (
    appointment,
    consent_document,
    encounter,
    feed,
    make_source,
    questionnaire_response,
    visit_at,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(db):
    return make_source()[0]


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def _log(intake):
    return list(Transition.objects.filter(workflow="intake", item_id=intake.pk).values_list("transition", flat=True))


def test_a_booked_appointment_creates_one_intake_with_the_default_checklist(source, capture):
    start = visit_at(2, hour=9)
    [message] = feed(source, appointment(start=start), capture=capture)
    assert message.status == InboxMessage.Status.PROCESSED
    intake = Intake.objects.get()
    assert (intake.state, intake.site.code, intake.patient_ref) == (State.PENDING, "north", "Patient/p1")
    assert intake.visit_start == start and intake.visit_date == start.date()
    assert intake.due_at == start.replace(hour=0)  # ready by the start of the visit day, site time
    assert [c.label for c in intake.checks.all()] == [
        "Demographics verified", "Insurance eligibility checked", "Consents signed", "Questionnaire completed",
        "Medication list reviewed",
    ]  # fmt: skip
    assert _log(intake) == ["create"]


def test_no_intake_at_a_site_that_does_not_use_intake(capture, db):
    source, _ = make_source(enabled=False)
    feed(source, appointment(), capture=capture)
    assert not Intake.objects.exists()


def test_a_proposed_appointment_makes_no_intake_until_it_is_booked(source, capture):
    feed(source, appointment(status="proposed"), capture=capture)
    assert not Intake.objects.exists()
    feed(source, appointment(status="booked", version=2), capture=capture)
    assert Intake.objects.count() == 1


def test_a_rescheduled_appointment_moves_its_intake_and_never_makes_a_second(source, capture):
    first, later = visit_at(2, hour=9), visit_at(5, hour=14)
    feed(source, appointment(start=first, version=1), capture=capture)
    feed(source, appointment(start=later, version=2), capture=capture)
    feed(source, appointment(start=later, version=2), capture=capture)  # re-delivered
    intake = Intake.objects.get()
    assert intake.visit_start == later and intake.visit_date == later.date() and intake.reschedule_count == 1
    assert intake.appointment_version == "2"
    moved = Transition.objects.get(workflow="intake", transition="reschedule")
    assert moved.reason.endswith(f" to {later.day} {later:%b %Y, %H:%M}")  # the one date format


def test_moving_an_escalated_intake_to_a_later_day_takes_it_back_from_the_supervisor(source, capture):
    feed(source, appointment(start=visit_at(2), version=1), capture=capture)
    Intake.objects.update(queue="supervisor", escalated_at=timezone.now())
    feed(source, appointment(start=visit_at(4), version=2), capture=capture)
    intake = Intake.objects.get()
    assert intake.queue == "intake" and intake.escalated_at is None


def test_an_older_version_arriving_late_does_not_move_the_intake_back(source, capture):
    first, later = visit_at(2, hour=9), visit_at(5, hour=14)
    now = timezone.now()
    newer = appointment(start=later, version=2, updated=now)
    older = appointment(start=first, version=1, updated=now - timedelta(hours=1))
    feed(source, newer, older, capture=capture)
    intake = Intake.objects.get()
    assert intake.visit_start == later and intake.reschedule_count == 0


def test_a_cancelled_appointment_cancels_its_intake(source, capture):
    feed(source, appointment(version=1), appointment(status="cancelled", version=2), capture=capture)
    intake = Intake.objects.get()
    assert intake.state == State.CANCELLED and not intake.is_open and intake.closed_at
    assert _log(intake) == ["create", "cancel"]
    feed(source, appointment(status="cancelled", version=2), capture=capture)
    assert _log(intake) == ["create", "cancel"]


def test_a_questionnaire_response_and_a_consent_document_tick_their_items(source, capture):
    feed(source, appointment(), questionnaire_response(), consent_document(), capture=capture)
    intake = Intake.objects.get()
    done = {c.key: (c.done_source, c.evidence) for c in intake.checks.all() if c.done_at}
    assert done == {
        "questionnaire": ("ehr", "QuestionnaireResponse/qr1"),
        "consents": ("ehr", "DocumentReference/d1"),
    }
    assert intake.state == State.IN_PROGRESS
    # The same questionnaire again ticks nothing more (and no other intake of the patient).
    feed(source, appointment("a2", start=visit_at(6)), questionnaire_response(), capture=capture)
    assert not Intake.objects.get(appointment__fhir_id="a2").checks.filter(done_at__isnull=False).exists()


def test_an_in_progress_questionnaire_or_another_document_ticks_nothing(source, capture):
    feed(source, appointment(), questionnaire_response(status="in-progress"), capture=capture)
    feed(source, consent_document("d2", code="11506-3"), capture=capture)  # a progress note
    assert not Intake.objects.get().checks.filter(done_at__isnull=False).exists()


def test_arrival_then_check_in_records_both_times_and_readiness(source, capture):
    feed(source, appointment(start=visit_at(0, hour=23)), capture=capture)
    intake = Intake.objects.get()
    arrived, checked = timezone.now() - timedelta(minutes=20), timezone.now() - timedelta(minutes=5)
    feed(source, appointment(start=intake.visit_start, status="arrived", version=2, updated=arrived), capture=capture)
    feed(source, appointment(start=intake.visit_start, status="checked-in", version=3, updated=checked),
         capture=capture)  # fmt: skip
    intake.refresh_from_db()
    assert intake.state == State.CHECKED_IN and intake.is_open  # the checklist is not complete yet
    assert intake.arrived_at == arrived and intake.checked_in_at == checked
    assert intake.check_in_minutes == pytest.approx(15)
    assert intake.complete_before_visit is False


def test_an_encounter_for_the_appointment_checks_the_patient_in(source, capture):
    feed(source, appointment(start=visit_at(0, hour=23)), encounter(), capture=capture)
    intake = Intake.objects.get()
    assert intake.state == State.CHECKED_IN and intake.checked_in_at is not None


def test_noshow_marks_the_intake(source, capture):
    feed(source, appointment(), appointment(status="noshow", version=2), capture=capture)
    intake = Intake.objects.get()
    assert intake.state == State.NO_SHOW and not intake.is_open and intake.complete_before_visit is False


def test_an_unmapped_appointment_type_keeps_the_default_checklist_and_says_so(source, capture):
    from apps.terminology.models import UnmappedCode

    feed(source, appointment(kind="NEWPT", system="http://example.org/appt-types"), capture=capture)
    intake = Intake.objects.get()
    assert intake.appointment_type == "" and "NEWPT is not mapped" in intake.exception_reason
    assert intake.checks.count() == 5
    assert UnmappedCode.objects.filter(code="NEWPT").exists()
