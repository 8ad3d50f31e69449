"""Claim, release, reassign and move, with row locks."""

import threading

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from apps.core.errors import ConflictError
from apps.core.roles import Role
from apps.referrals.models import Referral
from apps.workflow.models import Transition
from apps.workflow.services import item_claim, item_move, item_reassign, item_release
from tests.plugins.core import UserFactory
from tests.plugins.referral_feed import make_source, service_request


@pytest.fixture
def referral_and_site(db, django_capture_on_commit_callbacks):
    from tests.plugins.referral_feed import feed

    source, site = make_source()
    feed(source, service_request(), capture=django_capture_on_commit_callbacks)
    return Referral.objects.get(), site


@pytest.mark.django_db
def test_the_second_claimer_is_told_who_has_it(referral_and_site):
    referral, site = referral_and_site
    sam = UserFactory(role=Role.SCHEDULER, sites=[site], first_name="Sam", last_name="Rivera")
    kim = UserFactory(role=Role.SCHEDULER, sites=[site])
    item_claim(workflow="referral", item_id=referral.pk, by=sam)
    with pytest.raises(ConflictError, match="Sam Rivera claimed this item at"):
        item_claim(workflow="referral", item_id=referral.pk, by=kim)
    assert item_claim(workflow="referral", item_id=referral.pk, by=sam).assignee == sam  # claiming again is fine
    item_release(workflow="referral", item_id=referral.pk, by=sam)
    assert item_claim(workflow="referral", item_id=referral.pk, by=kim).assignee == kim
    assert list(Transition.objects.filter(item_id=referral.pk).values_list("transition", flat=True)) == [
        "receive", "claim", "release", "claim",
    ]  # fmt: skip


@pytest.mark.django_db
def test_only_supervisors_reassign_and_move(referral_and_site):
    referral, site = referral_and_site
    sam = UserFactory(role=Role.SCHEDULER, sites=[site])
    boss = UserFactory(role=Role.SUPERVISOR, sites=[site])
    with pytest.raises(PermissionDenied, match="Only a supervisor"):
        item_reassign(workflow="referral", item_id=referral.pk, to=sam, by=sam)
    item_reassign(workflow="referral", item_id=referral.pk, to=sam, by=boss, reason="cover")
    item_move(workflow="referral", item_id=referral.pk, queue="supervisor", by=boss)
    referral.refresh_from_db()
    assert (referral.assignee, referral.queue) == (sam, "supervisor")
    leader = UserFactory(role=Role.LEADER, sites=[site])
    with pytest.raises(PermissionDenied):
        item_reassign(workflow="referral", item_id=referral.pk, to=leader, by=boss)  # leaders do not work queues


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_people_claiming_at_once_exactly_one_wins(referral_and_site):
    referral, site = referral_and_site
    people = [UserFactory(role=Role.SCHEDULER, sites=[site]) for _ in range(6)]
    barrier = threading.Barrier(len(people))
    results: list[str] = []

    def claim(user):
        try:
            barrier.wait()
            item_claim(workflow="referral", item_id=referral.pk, by=user)
            results.append("won")
        except ConflictError as exc:
            results.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["already_claimed"] * 5 + ["won"]
    assert Transition.objects.filter(item_id=referral.pk, transition="claim").count() == 1


@pytest.mark.django_db
def test_a_move_keeps_the_due_time_of_an_overdue_item(referral_and_site):
    """Issue 14: an item 78 days overdue became "due in 19 h" after a bulk move."""
    from datetime import timedelta

    from django.utils import timezone

    referral, site = referral_and_site
    boss = UserFactory(role=Role.SUPERVISOR, sites=[site])
    overdue = timezone.now() - timedelta(days=78)
    Referral.objects.filter(pk=referral.pk).update(due_at=overdue, warn_at=overdue - timedelta(hours=1))
    item_move(workflow="referral", item_id=referral.pk, queue="supervisor", by=boss, reason="look at it")
    item_move(workflow="referral", item_id=referral.pk, queue="triage", by=boss)
    referral.refresh_from_db()
    assert (referral.queue, referral.due_at) == ("triage", overdue)
    moves = Transition.objects.filter(item_id=referral.pk, transition="move")
    assert list(moves.values_list("queue", flat=True)) == ["supervisor", "triage"]


@pytest.mark.django_db
def test_a_move_to_a_queue_that_does_not_fit_the_state_is_refused_in_words(referral_and_site):
    referral, site = referral_and_site
    boss = UserFactory(role=Role.SUPERVISOR, sites=[site])
    with pytest.raises(ConflictError) as refused:
        item_move(workflow="referral", item_id=referral.pk, queue="scheduled", by=boss)
    assert refused.value.code == "queue_does_not_fit"
    assert refused.value.message == (
        "This referral is received: it belongs in “Supervisor” or “Triage”, not “Scheduled”."
    )
    referral.refresh_from_db()
    assert referral.queue == "triage"
    assert not Transition.objects.filter(item_id=referral.pk, transition="move").exists()
