"""Staff use cases: the checklist drives the state; outreach, check-in, no-show, cancel; who may."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied

from apps.core.errors import ApplicationError, ConflictError
from apps.core.roles import Role
from apps.intake import services
from apps.intake.checklist import checklist_for
from apps.intake.models import ChecklistItem, Intake
from apps.intake.workflow import State
from apps.workflow.models import Transition
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.intake import intake_make, ma

pytestmark = pytest.mark.django_db


@pytest.fixture
def site():
    return SiteFactory(code="north", name="North Clinic", timezone="America/New_York")


def tick_all(intake, by):
    for key in intake.checks.values_list("key", flat=True):
        services.intake_check_set(intake_id=intake.pk, key=key, done=True, by=by)
    return Intake.objects.get(pk=intake.pk)


def test_ticking_every_item_before_the_visit_day_makes_the_intake_ready(site):
    intake, user = intake_make(site, days=2), ma(site)
    services.intake_check_set(intake_id=intake.pk, key="demographics", done=True, by=user)
    assert Intake.objects.get(pk=intake.pk).state == State.IN_PROGRESS
    intake = tick_all(intake, user)
    assert intake.state == State.READY and intake.ready_at and intake.is_open
    check = intake.checks.get(key="demographics")
    assert check.done_by == user and check.done_source == "staff"
    names = list(Transition.objects.filter(workflow="intake", item_id=intake.pk).values_list("transition", flat=True))
    assert names == ["start", "finish"]


def test_unticking_a_ready_intake_reopens_it(site):
    user = ma(site)
    intake = tick_all(intake_make(site, days=2), user)
    services.intake_check_set(intake_id=intake.pk, key="insurance", done=False, by=user)
    intake.refresh_from_db()
    assert intake.state == State.IN_PROGRESS and intake.ready_at is None


def test_finishing_on_the_visit_day_is_completed_late_and_not_ready_before_the_visit(site):
    user = ma(site)
    intake = tick_all(intake_make(site, days=0, hour=23), user)
    assert intake.state == State.COMPLETED_LATE and intake.is_open  # the patient has not arrived
    services.intake_check_in(intake_id=intake.pk, by=user)
    intake.refresh_from_db()
    assert intake.state == State.CHECKED_IN and not intake.is_open and intake.complete_before_visit is False


def test_ready_then_checked_in_counts_as_complete_before_the_visit(site):
    user = ma(site)
    intake = tick_all(intake_make(site, days=1, hour=10), user)
    with time_machine.travel(intake.visit_start - timedelta(minutes=10)):  # the visit day comes
        services.intake_check_in(intake_id=intake.pk, by=user)
    intake.refresh_from_db()
    assert intake.state == State.CHECKED_IN and intake.complete_before_visit is True and not intake.is_open
    assert intake.arrived_at is not None


def test_checked_in_with_items_open_finishes_as_completed_late(site):
    user = ma(site)
    intake = intake_make(site, days=0, hour=23)
    services.intake_check_in(intake_id=intake.pk, by=user)
    intake = tick_all(intake, user)
    assert intake.state == State.COMPLETED_LATE and not intake.is_open


def test_outreach_is_recorded_and_moves_a_pending_intake_to_outreach(site):
    intake, user = intake_make(site), ma(site)
    attempt = services.intake_outreach_record(intake_id=intake.pk, by=user, channel="phone", outcome="no_answer")
    intake.refresh_from_db()
    assert intake.state == State.OUTREACH and intake.outreach_attempts == 1 and attempt.by == user
    with pytest.raises(ApplicationError, match="Choose a channel"):
        services.intake_outreach_record(intake_id=intake.pk, by=user, channel="pigeon", outcome="no_answer")
    assert Intake.objects.get(pk=intake.pk).outreach_attempts == 1


def test_cancel_needs_a_reason_and_a_cancelled_intake_takes_no_ticks(site):
    intake, user = intake_make(site), ma(site)
    with pytest.raises(ApplicationError, match="Say why"):
        services.intake_cancel(intake_id=intake.pk, by=user, reason=" ")
    services.intake_cancel(intake_id=intake.pk, by=user, reason="Patient moved away")
    with pytest.raises(ConflictError):
        services.intake_check_set(intake_id=intake.pk, key="demographics", done=True, by=user)


def test_check_in_and_no_show_wait_for_the_visit_day(site):
    intake = intake_make(site, days=2)
    with pytest.raises(ConflictError, match="do this on the day"):
        services.intake_check_in(intake_id=intake.pk, by=ma(site))
    with pytest.raises(ConflictError, match="do this on the day"):
        services.intake_no_show(intake_id=intake.pk, by=ma(site))
    assert Intake.objects.get(pk=intake.pk).state == State.PENDING


def test_an_unknown_item_is_a_clear_error(site):
    intake = intake_make(site)
    with pytest.raises(ApplicationError, match="no such item"):
        services.intake_check_set(intake_id=intake.pk, key="nope", done=True, by=ma(site))


def test_only_intake_workers_at_the_site_may_act(site):
    intake = intake_make(site)
    scheduler = UserFactory(role=Role.SCHEDULER, sites=[site])
    elsewhere = UserFactory(role=Role.MEDICAL_ASSISTANT, sites=[SiteFactory(code="south")])
    for user in (scheduler, elsewhere):
        with pytest.raises(PermissionDenied):
            services.intake_check_set(intake_id=intake.pk, key="demographics", done=True, by=user)


def test_site_additions_and_type_overrides_shape_the_checklist(site):
    supervisor = UserFactory(role=Role.SUPERVISOR, sites=[site])
    services.checklist_item_save(by=supervisor, key="photo-id", label="Photo ID on file", site=site, position=60)
    services.checklist_item_save(
        by=supervisor, key="questionnaire", label="Questionnaire completed", site=site, appointment_type="WALKIN",
        active=False,
    )  # fmt: skip
    routine = [line.key for line in checklist_for(site, "ROUTINE")]
    walkin = [line.key for line in checklist_for(site, "WALKIN")]
    assert routine == ["demographics", "insurance", "consents", "questionnaire", "medications", "photo-id"]
    assert "questionnaire" not in walkin and "photo-id" in walkin
    other = SiteFactory(code="south")
    assert "photo-id" not in [line.key for line in checklist_for(other, "ROUTINE")]
    with pytest.raises(ApplicationError, match="not one of yours"):
        services.checklist_item_save(by=supervisor, key="x", label="X", site=other)
    with pytest.raises(ApplicationError, match="Only a supervisor"):
        services.checklist_item_save(by=ma(site), key="x", label="X", site=site)
    assert ChecklistItem.objects.filter(site=site).count() == 2


def test_the_sla_sweep_escalates_an_unready_intake_on_the_visit_day_but_not_a_ready_one(site):
    from apps.workflow.services import sla_sweep

    user = ma(site)
    ready = tick_all(intake_make(site, days=1, hour=10), user)
    late = intake_make(site, days=1, hour=11)
    with time_machine.travel(late.visit_start - timedelta(hours=2)):
        assert sla_sweep() == 1
    late.refresh_from_db()
    ready.refresh_from_db()
    assert late.queue == "supervisor" and late.escalated_at is not None
    assert ready.queue == "intake" and ready.escalated_at is None and ready.sla_paused_at is not None


@pytest.mark.django_db
def test_one_checklist_line_per_key_site_and_type_also_for_every_site_on_sqlite(own_site):
    """The default lines have no site; the database refuses a second one (SQLite included)."""
    from django.db import IntegrityError, transaction

    ChecklistItem.objects.create(key="x-ray", label="X-ray brought", site=None, appointment_type="")
    ChecklistItem.objects.create(key="x-ray", label="X-ray brought", site=own_site, appointment_type="")
    with pytest.raises(IntegrityError), transaction.atomic():
        ChecklistItem.objects.create(key="x-ray", label="Again", site=None, appointment_type="")
    with pytest.raises(IntegrityError), transaction.atomic():
        ChecklistItem.objects.create(key="x-ray", label="Again", site=own_site, appointment_type="")
    assert ChecklistItem.objects.filter(key="x-ray").count() == 2


def test_the_front_desk_checks_in_and_the_ehr_is_told_through_the_outbox(site, django_capture_on_commit_callbacks):
    from apps.ehr.models import OutboxMessage

    here, away = intake_make(site, days=0, hour=23), intake_make(site, days=0, hour=22)
    with django_capture_on_commit_callbacks():
        services.intake_check_in(intake_id=here.pk, by=ma(site))
        services.intake_no_show(intake_id=away.pk, by=ma(site))
    sent = {(m.resource_type, m.resource_id): m for m in OutboxMessage.objects.all()}
    assert sent[("Appointment", here.appointment.fhir_id)].changes == {"status": "arrived"}
    assert sent[("Appointment", away.appointment.fhir_id)].changes == {"status": "noshow"}
    assert {m.source_id for m in sent.values()} == {here.source_id}
    assert (Intake.objects.get(pk=here.pk).state, Intake.objects.get(pk=away.pk).state) == (
        State.CHECKED_IN, State.NO_SHOW,
    )  # fmt: skip


def test_what_the_ehr_said_is_not_sent_back_to_it(site):
    from apps.ehr.models import OutboxMessage

    intake = intake_make(site, days=0, hour=23)
    services.intake_arrive_from_ehr(
        source_id=intake.source_id, appointment_id=intake.appointment.fhir_id, status="arrived",
        at=intake.visit_start,
    )  # fmt: skip
    assert Intake.objects.get(pk=intake.pk).state == State.CHECKED_IN
    assert not OutboxMessage.objects.exists()
