"""SLA policies, business-hours due times, escalation to the supervisor queue."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from apps.referrals.models import Referral
from apps.workflow.models import Holiday, SlaPolicy, Transition
from apps.workflow.services import sla_sweep
from apps.workflow.sla import policy_for, sla_status
from tests.plugins.referral_feed import feed, make_source, service_request

pytestmark = pytest.mark.django_db
MONDAY_9_NY = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # 09:00 in New York


def test_the_most_specific_policy_wins():
    SlaPolicy.objects.create(workflow="referral", target_minutes=100)
    SlaPolicy.objects.create(workflow="referral", priority="urgent", target_minutes=50)
    SlaPolicy.objects.create(workflow="referral", queue="triage", target_minutes=40)
    SlaPolicy.objects.create(workflow="referral", queue="triage", priority="urgent", target_minutes=10)
    assert policy_for("referral", "triage", "urgent").target_minutes == 10
    assert policy_for("referral", "triage", "routine").target_minutes == 40
    assert policy_for("referral", "scheduling", "urgent").target_minutes == 50
    assert policy_for("referral", "scheduling", "routine").target_minutes == 100


def test_due_time_counts_the_sites_business_hours_and_holidays(django_capture_on_commit_callbacks):
    source, site = make_source()
    site.timezone = "America/New_York"
    site.save()
    Holiday.objects.create(site=site, date=date(2026, 3, 3), name="Founders' day")
    SlaPolicy.objects.create(workflow="referral", queue="triage", target_minutes=9 * 60, warn_percent=50)
    with time_machine.travel(MONDAY_9_NY, tick=False):
        feed(source, service_request(), capture=django_capture_on_commit_callbacks)
    referral = Referral.objects.get()
    # Monday 09:00 + 9 business hours: Monday closes 17:00 (8 h), Tuesday is a holiday → Wednesday 09:00.
    assert referral.due_at == datetime(2026, 3, 4, 14, 0, tzinfo=UTC)
    assert referral.warn_at == datetime(2026, 3, 2, 18, 30, tzinfo=UTC)  # 4.5 business hours


def test_breached_items_escalate_once_to_the_supervisor_queue(django_capture_on_commit_callbacks):
    source, _ = make_source()
    SlaPolicy.objects.create(workflow="referral", queue="triage", target_minutes=60, business_hours=False)
    with time_machine.travel(MONDAY_9_NY, tick=False) as clock:
        feed(source, service_request(), capture=django_capture_on_commit_callbacks)
        referral = Referral.objects.get()
        clock.shift(timedelta(minutes=50))
        assert sla_status(referral) == "due_soon" and sla_sweep() == 0
        clock.shift(timedelta(minutes=11))
        assert sla_status(referral) == "overdue"
        assert sla_sweep() == 1 and sla_sweep() == 0
    referral.refresh_from_db()
    assert referral.queue == "supervisor" and referral.escalated_at
    escalation = Transition.objects.get(transition="escalate")
    assert (escalation.source, escalation.actor) == ("timer", None)
    assert escalation.reason == "SLA breached in the triage queue"


def test_paused_items_do_not_escalate(django_capture_on_commit_callbacks):
    from apps.core.roles import Role
    from apps.referrals.services import referral_request_info
    from tests.plugins.core import UserFactory

    source, site = make_source()
    SlaPolicy.objects.create(workflow="referral", target_minutes=60, business_hours=False)
    with time_machine.travel(MONDAY_9_NY, tick=False) as clock:
        feed(source, service_request(), capture=django_capture_on_commit_callbacks)
        referral = Referral.objects.get()
        referral_request_info(referral_id=referral.pk, by=UserFactory(role=Role.SCHEDULER, sites=[site]), question="?")
        clock.shift(timedelta(days=3))
        assert sla_sweep() == 0
        assert sla_status(Referral.objects.get()) == "paused"
