"""Versions of one resource dequeued out of order, across batches, reach the workflow in version
order (apps.ehr.services.inbox.version_gate): the end state is the one processing in order gives."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.ehr.models import InboxMessage
from apps.ehr.services.inbox import inbox_process, inbox_receive, inbox_sweep
from apps.referrals.models import Referral
from apps.workflow.models import Transition
from tests.plugins.referral_feed import make_source, service_request

pytestmark = pytest.mark.django_db
Status = InboxMessage.Status


@pytest.fixture
def source(db):
    return make_source()[0]


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def receive(source, resource) -> int:
    receipt = inbox_receive(source=source, body=resource, channel=InboxMessage.Channel.WEBHOOK, process=False)
    return receipt.new_ids[0]


def end_state(sr_id: str) -> tuple[str, list[str]]:
    referral = Referral.objects.get(service_request__fhir_id=sr_id)
    steps = Transition.objects.filter(workflow="referral", item_id=referral.pk).order_by("id")
    return referral.state, list(steps.values_list("transition", flat=True))


def test_an_older_version_dequeued_after_a_newer_one_still_comes_first(source, capture):
    # In order: created, then cancelled by the EHR.
    in_order = [receive(source, service_request("a", version="1")),
                receive(source, service_request("a", version="2", status="revoked"))]  # fmt: skip
    for message_id in in_order:
        inbox_process(message_ids=[message_id])
    # Out of order across batches: the newer version is dequeued alone, first.
    v1 = receive(source, service_request("b", version="1"))
    v2 = receive(source, service_request("b", version="2", status="revoked"))
    inbox_process(message_ids=[v2])
    waiting = InboxMessage.objects.get(pk=v2)
    assert (waiting.status, waiting.attempts) == (Status.RECEIVED, 0)  # waits for version 1, no attempt spent
    assert not Referral.objects.filter(service_request__fhir_id="b").exists()
    with capture(execute=True):  # applying version 1 queues the version that waited for it
        inbox_process(message_ids=[v1])
    assert set(InboxMessage.objects.filter(pk__in=[v1, v2]).values_list("status", flat=True)) == {Status.PROCESSED}
    assert end_state("b") == end_state("a")
    assert end_state("b")[0] == "cancelled"


def test_a_dead_older_version_does_not_hold_the_newer_back(source, capture):
    v1 = receive(source, service_request("c", version="1"))
    InboxMessage.objects.filter(pk=v1).update(status=Status.DEAD)
    v2 = receive(source, service_request("c", version="2", priority="stat"))
    inbox_process(message_ids=[v2])
    assert InboxMessage.objects.get(pk=v2).status == Status.PROCESSED
    assert Referral.objects.get(service_request__fhir_id="c").priority == "stat"


def test_a_waiting_version_is_picked_up_by_the_sweeper_when_nobody_queues_it(source, capture):
    v1 = receive(source, service_request("d", version="1"))
    v2 = receive(source, service_request("d", version="2", status="revoked"))
    inbox_process(message_ids=[v2])  # waits
    InboxMessage.objects.filter(pk=v1).update(status=Status.FAILED, attempts=1, next_attempt_at=timezone.now())
    with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False), capture(execute=True):
        assert inbox_sweep() == 2  # the failed version 1 is due, and version 2 still waits for it
    assert end_state("d")[0] == "cancelled"
