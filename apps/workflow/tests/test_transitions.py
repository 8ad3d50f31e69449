"""The transition engine: one refusal for every workflow, policies from the registry, staff checks,
re-queueing held items."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.errors import ApplicationError, ConflictError
from apps.core.roles import Role
from apps.referrals.models import Referral
from apps.workflow.models import Transition, TransitionSource
from apps.workflow.registry import workflow_policy
from apps.workflow.transitions import (
    Policy,
    held_release,
    item_lock,
    staff_lock,
    transition_apply,
)
from tests.plugins.core import UserFactory
from tests.plugins.ehr_messages import feed
from tests.plugins.referral_feed import make_source, service_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def referral(django_capture_on_commit_callbacks):
    source, _ = make_source()
    feed(source, service_request(), capture=django_capture_on_commit_callbacks)
    return Referral.objects.get()


def test_every_workflow_registers_its_policy_and_an_unknown_one_gets_the_default():
    assert {workflow_policy(w).noun for w in ("referral", "result", "intake")} == {"referral", "result", "intake"}
    assert type(workflow_policy("no-such-workflow")) is Policy


def test_a_refused_transition_is_a_conflict_said_in_words_not_snake_case(referral):
    with pytest.raises(ConflictError) as refused:
        transition_apply(item_lock(Referral.WORKFLOW, referral.pk), "request_auth")
    assert refused.value.code == "transition_not_allowed"
    assert str(refused.value) == "This referral is received: “Needs authorisation” is not possible now."


def test_staff_lock_checks_the_action_the_reason_and_the_person(referral):
    scheduler = UserFactory(role=Role.SCHEDULER, sites=[referral.site])
    with pytest.raises(ApplicationError, match="not a staff action"):
        staff_lock(Referral.WORKFLOW, referral.pk, "schedule", by=scheduler)
    with pytest.raises(ApplicationError, match="Say why the referral is cancelled"):
        staff_lock(Referral.WORKFLOW, referral.pk, "cancel", by=scheduler, reason="  ")
    assert staff_lock(Referral.WORKFLOW, referral.pk, "triage", by=scheduler).pk == referral.pk


def test_held_release_starts_the_clock_of_a_held_item_and_keeps_a_queued_items_due_time(referral):
    long_ago = timezone.now() - timedelta(days=90)
    Referral.objects.filter(pk=referral.pk).update(queue="exceptions", due_at=long_ago)
    moved = held_release(Referral.WORKFLOW, [referral.pk], transition="route", release=lambda r: ("triage", "mapped"))
    assert moved == 1
    referral.refresh_from_db()
    assert referral.queue == "triage"
    assert referral.due_at > timezone.now()  # leaving exceptions starts the SLA clock
    last = Transition.objects.filter(item_id=referral.pk).last()
    assert (last.transition, last.source, last.reason) == ("route", TransitionSource.SYSTEM, "mapped")

    # The release re-checks the locked item: one it no longer changes is skipped, not counted.
    def still_held(item):
        return ("triage", "mapped") if item.queue == "exceptions" else None

    assert held_release(Referral.WORKFLOW, [referral.pk], transition="route", release=still_held) == 0
    # An item already in a queue that a new mapping moves keeps its due time (not made new).
    due = referral.due_at
    assert (
        held_release(Referral.WORKFLOW, [referral.pk], transition="route", release=lambda r: ("scheduling", "remapped"))
        == 1
    )
    referral.refresh_from_db()
    assert (referral.queue, referral.due_at) == ("scheduling", due)
