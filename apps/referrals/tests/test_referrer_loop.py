"""The referrer loop both ways: the question goes out as a Communication about the referrer's Task
(and the Task on hold with its statusReason), the answer comes back through the real ingestion
path and the referral returns to triage with the SLA clock resumed; declines and cancellations
tell the referrer why and who."""

import pytest
import time_machine

from apps.core.roles import Role
from apps.ehr.models import OutboxMessage
from apps.referrals import services
from apps.referrals.models import Referral
from apps.referrals.workflow import State
from apps.workflow.models import Transition
from tests.plugins.core import UserFactory
from tests.plugins.referral_feed import feed, make_source, service_request, task

pytestmark = pytest.mark.django_db


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def setup(capture):
    with time_machine.travel("2026-03-10T08:00:00Z", tick=False):
        source, site = make_source()
        feed(source, service_request(), task(), capture=capture)
        referral = Referral.objects.get()
        scheduler = UserFactory(role=Role.SCHEDULER, username="sam", first_name="Sam", last_name="Rivera",
                                sites=[site])  # fmt: skip
        services.referral_triage(referral_id=referral.pk, by=scheduler)
    return Referral.objects.get(), scheduler, source


def _task_updates() -> list[dict]:
    return [m.changes for m in OutboxMessage.objects.filter(resource_type="Task").order_by("id")]


def test_the_question_reaches_the_referrer_and_their_answer_resumes_triage(setup, capture):
    referral, scheduler, source = setup
    with time_machine.travel("2026-03-10T09:00:00Z", tick=False):
        services.referral_request_info(referral_id=referral.pk, by=scheduler, question="Latest echo report?")
    held = _task_updates()[-1]
    assert held["status"] == "on-hold" and held["statusReason"] == {"text": "Information needed: Latest echo report?"}
    [question] = OutboxMessage.objects.filter(resource_type="Communication")
    sent = question.changes
    assert (question.operation, sent["about"], sent["payload"]) == (
        "create", [{"reference": "Task/t1"}], [{"contentString": "Latest echo report?"}],
    )  # fmt: skip
    assert sent["recipient"] == [{"reference": "Practitioner/dr-ref"}]
    referral.refresh_from_db()
    paused_due = referral.due_at
    assert referral.state == State.NEEDS_INFO and referral.sla_paused_at

    # Our own question coming back (polling sees it on the EHR) is not an answer.
    echo = {"resourceType": "Communication", "id": "q1", **sent}
    with time_machine.travel("2026-03-11T09:00:00Z", tick=False):
        feed(source, echo, capture=capture)
    referral.refresh_from_db()
    assert referral.state == State.NEEDS_INFO

    answer = {
        "resourceType": "Communication", "id": "ans1", "status": "completed",
        "inResponseTo": [{"reference": "Communication/q1"}], "about": [{"reference": "Task/t1"}],
        "payload": [{"contentString": "Echo from 2 March attached: EF 45%."}],
    }  # fmt: skip
    with time_machine.travel("2026-03-12T09:00:00Z", tick=False):
        feed(source, answer, capture=capture)
    referral.refresh_from_db()
    assert (referral.state, referral.sla_paused_at) == (State.TRIAGE, None)
    assert referral.due_at > paused_due  # the two days waiting on the referrer did not count
    log = Transition.objects.get(item_id=referral.pk, transition="receive_info")
    assert log.source == "ehr" and "Echo from 2 March attached: EF 45%." in log.reason


def test_a_task_updated_with_input_is_an_answer_too(setup, capture):
    referral, scheduler, source = setup
    services.referral_request_info(referral_id=referral.pk, by=scheduler, question="Which hospital?")
    updated = {**task(version="3", status="in-progress"),
               "input": [{"type": {"text": "Answer"}, "valueString": "St Mary's"}]}  # fmt: skip
    feed(source, updated, capture=capture)
    referral.refresh_from_db()
    assert referral.state == State.TRIAGE
    assert "St Mary's" in Transition.objects.get(item_id=referral.pk, transition="receive_info").reason


def test_a_decline_sends_its_coded_reason_and_note(setup):
    referral, scheduler, _ = setup
    services.referral_decline(referral_id=referral.pk, by=scheduler, reason_code="wrong-service",
                              note="Send to electrophysiology")  # fmt: skip
    declined = _task_updates()[-1]
    assert declined["status"] == "rejected"
    assert declined["statusReason"]["coding"][0]["code"] == "wrong-service"
    assert declined["statusReason"]["text"] == "Send to electrophysiology"


def test_a_cancellation_says_who_cancelled(setup):
    referral, scheduler, _ = setup
    services.referral_cancel(referral_id=referral.pk, by=scheduler, reason="Patient moved away")
    cancelled = _task_updates()[-1]
    assert cancelled["status"] == "cancelled"
    assert cancelled["statusReason"]["text"] == "Cancelled by Sam Rivera (clinops): Patient moved away"
