"""The demo's referrer answers some of clinops's questions after a delay: a Communication in
response about their Task, through the real ingestion path, which puts the referral back in triage."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from apps.core.roles import Role
from apps.demo.staff import StaffContext
from apps.demo.staff.referrals import ANSWERS, StaffRates, referrals_staff
from apps.referrals import services
from apps.referrals.models import Referral
from apps.referrals.workflow import State
from apps.workflow.models import Transition
from tests.plugins.core import UserFactory
from tests.plugins.referral_feed import feed, make_source, service_request, task

pytestmark = pytest.mark.django_db
ASKED = datetime(2026, 3, 10, 9, tzinfo=UTC)


@pytest.fixture
def asked(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    with time_machine.travel(ASKED, tick=False):
        source, site = make_source(name="demo-ehr")
        for n in range(6):
            feed(source, service_request(f"sr{n}"), task(f"t{n}", sr_id=f"sr{n}"), capture=capture)
        scheduler = UserFactory(role=Role.SCHEDULER, sites=[site])
        for referral in Referral.objects.all():
            services.referral_triage(referral_id=referral.pk, by=scheduler)
            services.referral_request_info(referral_id=referral.pk, by=scheduler, question="Latest ECG?")
    return capture


def _run(capture, now, rates=None):
    with time_machine.travel(now, tick=False), capture(execute=True):
        return referrals_staff(StaffContext(source_name="demo-ehr", now=now), rates)


def test_the_referrer_answers_after_a_delay_through_ingestion(asked):
    assert _run(asked, ASKED + timedelta(minutes=5))["referrer answered"] == 0  # no one answers that fast
    assert set(Referral.objects.values_list("state", flat=True)) == {State.NEEDS_INFO}
    done = _run(asked, ASKED + timedelta(days=60), StaffRates(referrer_answers=1.0, triage=0))
    assert done["referrer answered"] == 6
    for referral in Referral.objects.all():
        assert (referral.state, referral.sla_paused_at) == (State.TRIAGE, None)
        log = Transition.objects.get(item_id=referral.pk, transition="receive_info")
        assert log.source == "ehr" and any(answer in log.reason for answer in ANSWERS)
    # A second run sends nothing again.
    assert _run(asked, ASKED + timedelta(days=61))["referrer answered"] == 0


def test_some_questions_stay_unanswered(asked):
    done = _run(asked, ASKED + timedelta(days=60), StaffRates(triage=0))
    states = list(Referral.objects.values_list("state", flat=True))
    assert done["referrer answered"] == states.count(State.TRIAGE)
    assert 0 < states.count(State.TRIAGE) < 6 and State.NEEDS_INFO in states  # seeded: the same every run
