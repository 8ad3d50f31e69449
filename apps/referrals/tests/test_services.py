"""Staff actions on referrals: role and site checks, state guards, SLA pauses, the closed loop."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from apps.core.errors import ApplicationError, ConflictError
from apps.core.roles import Role
from apps.ehr.models import OutboxMessage
from apps.referrals import services
from apps.referrals.models import Referral
from apps.referrals.workflow import State
from apps.workflow.models import Transition
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.referral_feed import feed, make_source, service_request, task

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(django_capture_on_commit_callbacks):
    source, site = make_source()
    feed(source, service_request(), capture=django_capture_on_commit_callbacks)
    referral = Referral.objects.get()
    scheduler = UserFactory(role=Role.SCHEDULER, sites=[site])
    return referral, scheduler, site, source


def test_triage_accept_and_schedule_path_is_logged_with_the_actor(setup):
    referral, scheduler, *_ = setup
    services.referral_triage(referral_id=referral.pk, by=scheduler)
    services.referral_accept(referral_id=referral.pk, by=scheduler, note="Seen the ECG; accept")
    services.referral_start_scheduling(referral_id=referral.pk, by=scheduler)
    referral.refresh_from_db()
    assert (referral.state, referral.queue) == (State.SCHEDULING, "scheduling")
    log = list(Transition.objects.filter(item_id=referral.pk).values_list("transition", "actor_id", "actor_role"))
    assert log[1:] == [
        ("triage", scheduler.pk, Role.SCHEDULER),
        ("accept", scheduler.pk, Role.SCHEDULER),
        ("start_scheduling", scheduler.pk, Role.SCHEDULER),
    ]


def test_a_stale_action_is_a_conflict_with_a_clear_message(setup):
    referral, scheduler, *_ = setup
    with pytest.raises(ConflictError, match="This referral is received: “Accept” is not possible now"):
        services.referral_accept(referral_id=referral.pk, by=scheduler)


def test_other_sites_and_other_roles_are_refused(setup):
    referral, *_ = setup
    elsewhere = UserFactory(role=Role.SCHEDULER, sites=[SiteFactory(code="south")])
    with pytest.raises(PermissionDenied, match="site you are not a member of"):
        services.referral_triage(referral_id=referral.pk, by=elsewhere)
    leader = UserFactory(role=Role.LEADER, sites=[referral.site])
    with pytest.raises(PermissionDenied, match="does not work this queue"):
        services.referral_triage(referral_id=referral.pk, by=leader)


def test_needs_info_pauses_the_sla_and_the_answer_resumes_it_with_the_time_left(setup):
    referral, scheduler, *_ = setup
    services.referral_triage(referral_id=referral.pk, by=scheduler)
    referral.refresh_from_db()
    due_before = referral.due_at
    with pytest.raises(ApplicationError, match="Say what information is missing"):
        services.referral_request_info(referral_id=referral.pk, by=scheduler, question="  ")
    services.referral_request_info(referral_id=referral.pk, by=scheduler, question="Latest echo report?")
    referral.refresh_from_db()
    assert referral.state == State.NEEDS_INFO and referral.sla_paused_at and referral.queue == "waiting"
    left = referral.sla_remaining_minutes
    with time_machine.travel(timezone.now() + timedelta(days=9)):
        services.referral_receive_info(referral_id=referral.pk, by=scheduler)
        referral.refresh_from_db()
        assert referral.sla_paused_at is None and referral.state == State.TRIAGE
        assert referral.due_at > due_before + timedelta(days=8)  # the wait did not count
        assert left > 0


def test_decline_needs_a_coded_reason(setup):
    referral, scheduler, *_ = setup
    with pytest.raises(ApplicationError, match="Choose a decline reason"):
        services.referral_decline(referral_id=referral.pk, by=scheduler, reason_code="")
    services.referral_decline(referral_id=referral.pk, by=scheduler, reason_code="not-indicated")
    referral.refresh_from_db()
    assert referral.state == State.DECLINED and referral.decline_reason == "not-indicated" and not referral.is_open


def test_abandon_is_offered_only_after_three_failed_outreach_attempts(setup):
    referral, scheduler, *_ = setup
    services.referral_triage(referral_id=referral.pk, by=scheduler)
    services.referral_accept(referral_id=referral.pk, by=scheduler)
    services.referral_start_scheduling(referral_id=referral.pk, by=scheduler)
    with pytest.raises(ConflictError, match="0 so far"):
        services.referral_abandon(referral_id=referral.pk, by=scheduler)
    for outcome in ("no_answer", "left_message"):
        services.referral_outreach_record(referral_id=referral.pk, by=scheduler, channel="phone", outcome=outcome)
    assert "abandon" not in services.allowed_actions(Referral.objects.get(pk=referral.pk), scheduler)
    services.referral_outreach_record(referral_id=referral.pk, by=scheduler, channel="sms", outcome="no_answer")
    assert "abandon" in services.allowed_actions(Referral.objects.get(pk=referral.pk), scheduler)
    services.referral_abandon(referral_id=referral.pk, by=scheduler)
    referral.refresh_from_db()
    assert referral.state == State.ABANDONED and referral.outreach_attempts == 3


def test_outreach_needs_a_known_channel_and_outcome(setup):
    referral, scheduler, *_ = setup
    with pytest.raises(ApplicationError, match="Choose a channel and an outcome"):
        services.referral_outreach_record(referral_id=referral.pk, by=scheduler, channel="pigeon", outcome="reached")


def test_forward_to_another_service_line_is_explicit_and_logged(setup):
    from apps.core.models import ServiceLine

    referral, scheduler, site, _ = setup
    site.service_lines.add(ServiceLine.objects.create(code="neurology", name="Neurology"))
    with pytest.raises(ApplicationError, match="Say why"):
        services.referral_forward(referral_id=referral.pk, by=scheduler, service_line_code="neurology", reason="")
    services.referral_forward(referral_id=referral.pk, by=scheduler, service_line_code="neurology", reason="Syncope")
    assert Referral.objects.get().service_line.code == "neurology"
    assert Transition.objects.filter(transition="forward", reason="Syncope").exists()


def test_allowed_actions_follow_state_and_role(setup):
    referral, scheduler, site, _ = setup
    assert set(services.allowed_actions(referral, scheduler)) == {"triage", "request_info", "decline", "cancel"}
    assert services.allowed_actions(referral, UserFactory(role=Role.CLINICIAN, sites=[site])) == []


def test_every_state_change_queues_the_referrers_task_update(django_capture_on_commit_callbacks):
    source, site = make_source()
    feed(source, task(), service_request(), capture=django_capture_on_commit_callbacks)
    referral = Referral.objects.get()
    scheduler = UserFactory(role=Role.SCHEDULER, sites=[site])
    services.referral_triage(referral_id=referral.pk, by=scheduler)
    services.referral_decline(referral_id=referral.pk, by=scheduler, reason_code="wrong-service")
    updates = OutboxMessage.objects.filter(resource_type="Task", resource_id="t1").order_by("id")
    assert [(u.changes["status"], u.changes["businessStatus"]["coding"][0]["code"]) for u in updates] == [
        ("received", "received"),
        ("received", "in-triage"),
        ("rejected", "declined"),
    ]


def test_a_possible_duplicate_is_merged_by_a_person(django_capture_on_commit_callbacks):
    source, site = make_source()
    feed(source, service_request("sr1"), task("t2", sr_id="sr2"), service_request("sr2"),
         capture=django_capture_on_commit_callbacks)  # fmt: skip
    first, second = Referral.objects.order_by("id")
    scheduler = UserFactory(role=Role.SCHEDULER, sites=[site])
    assert "merge" in services.allowed_actions(second, scheduler)
    assert "merge" not in services.allowed_actions(first, scheduler)  # nothing to merge into
    with pytest.raises(ApplicationError, match="into itself"):
        services.referral_merge(referral_id=second.pk, by=scheduler, into_id=second.pk)
    services.referral_merge(referral_id=second.pk, by=scheduler, into_id=first.pk, note="Same request, faxed twice")
    second.refresh_from_db()
    assert (second.state, second.is_open, second.decline_reason) == (State.CANCELLED, False, "duplicate")
    assert Transition.objects.get(item_id=first.pk, transition="merge_in").reason == f"Referral #{second.pk} merged in"
    told = OutboxMessage.objects.filter(resource_id="t2").latest("id").changes
    assert (told["status"], told["businessStatus"]["coding"][0]["code"]) == ("cancelled", "duplicate")


def test_merge_refuses_another_patient(django_capture_on_commit_callbacks):
    source, site = make_source()
    feed(source, service_request("sr1", patient="p1"), service_request("sr2", patient="p2"),
         capture=django_capture_on_commit_callbacks)  # fmt: skip
    first, second = Referral.objects.order_by("id")
    scheduler = UserFactory(role=Role.SCHEDULER, sites=[site])
    with pytest.raises(ConflictError, match="same patient"):
        services.referral_merge(referral_id=second.pk, by=scheduler, into_id=first.pk)
