"""make run's first start (demo_start): a backfilled history through the real interfaces, dated
in the past, worked by simulated staff; a second start changes nothing."""

import contextlib
import io
import threading
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from apps.demo.generator import Config, simulate
from apps.demo.history import history_slices
from apps.demo.live import REFERENCE_TYPES, LiveFeed, live_events
from apps.demo.staff import StaffContext, staff_simulate, staff_workflows
from apps.demo.staff.intake import CHECK_IN
from apps.ehr.models import (
    DiagnosticReport,
    DocumentReference,
    Encounter,
    InboxMessage,
    Observation,
    OutboxMessage,
    ServiceRequest,
)
from apps.intake.models import Intake, IntakeCheck
from apps.referrals.models import Referral
from apps.results.models import ResultItem
from apps.workflow.models import Outreach, Transition
from tests.plugins.shared_db import shared_data


def snapshot() -> tuple:
    return (
        InboxMessage.objects.count(),
        OutboxMessage.objects.count(),
        Transition.objects.count(),
        Counter(Referral.objects.values_list("state", flat=True)),
        DiagnosticReport.objects.count(),
        Counter(ResultItem.objects.values_list("state", "assignee_id")),
        Counter(Intake.objects.values_list("state", "outreach_attempts")),
        IntakeCheck.objects.exclude(done_at=None).count(),
    )


def _first_start() -> tuple[str, str]:
    """seed_demo, then make run's first start with 12 days of history: (its output, its progress bar)."""
    out, err = io.StringIO(), io.StringIO()
    with override_settings(DEBUG=True), contextlib.redirect_stderr(err):
        call_command("seed_demo", stdout=io.StringIO())
        call_command("demo_start", "--days", "12", stdout=out)
    return out.getvalue(), err.getvalue()


def test_demo_start_refuses_without_debug_and_bad_days(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("demo_start")
    settings.DEBUG = True
    with pytest.raises(CommandError, match="more than 0"):
        call_command("demo_start", "--days", "0")
    assert not InboxMessage.objects.exists()


def test_history_slices_keep_every_event_in_order():
    now = timezone.now().replace(microsecond=0)
    start = now - timedelta(days=3)
    events = simulate(Config(seed=4), start=start, end=now)
    slices = history_slices(events, start=start, end=now, hours=6)
    assert len(slices) == 12 and slices[-1][0] == now
    assert [e for _, chunk in slices for e in chunk] == events
    assert all(e.at <= end for end, chunk in slices for e in chunk)


def test_staff_simulations_are_discovered_per_installed_workflow():
    assert {"referral", "result", "intake"} <= set(staff_workflows())


def test_the_live_feed_skips_reference_data_and_is_busy_enough_to_see():
    now = timezone.now().replace(microsecond=0)
    resources = live_events(seed=5, now=now, hours=1)
    assert resources and not {r["resourceType"] for r in resources} & REFERENCE_TYPES
    assert any(r["resourceType"] == "Task" for r in resources)


@pytest.mark.django_db(transaction=True)
def test_serve_demos_live_feed_posts_through_the_webhook_with_a_fresh_token(live_server, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    feed = LiveFeed(base_url=live_server.url, per_second=50)
    feed.start()
    deadline = threading.Event()
    for _ in range(100):
        if InboxMessage.objects.filter(source__name="demo-ehr").count() >= 20:
            break
        deadline.wait(0.1)
    feed.stop.set()
    feed.join(timeout=10)
    messages = InboxMessage.objects.filter(source__name="demo-ehr")
    assert messages.count() >= 20
    assert set(messages.values_list("channel", flat=True)) == {InboxMessage.Channel.WEBHOOK}
    assert not messages.filter(resource_type__in=REFERENCE_TYPES).exists()


@pytest.fixture(scope="class")
def first_start(django_db_setup, django_db_blocker):
    yield from shared_data(django_db_blocker, _first_start)


@pytest.mark.xdist_group("first_start")  # one worker loads the history once for the class
class TestTheFirstStartsHistory:
    """Tests of one history: make run's first start (seed_demo, demo_start --days 12), loaded once for
    the class (each test's writes roll back; the module's other tests start from an empty database)."""

    @pytest.fixture
    def seeded(self, db, settings, first_start):
        settings.DEBUG = True
        return first_start

    def test_first_start_loads_a_dated_history_into_every_workflow_and_a_second_start_changes_nothing(
        self, seeded, capsys
    ):
        out, err = seeded
        assert "resources imported" in out and "0 failed" in out
        assert "100%" in err  # the progress bar ran to the end

        messages = InboxMessage.objects.filter(source__name="demo-ehr")
        assert not messages.exclude(status__in=[InboxMessage.Status.PROCESSED]).exists()
        types = set(messages.values_list("resource_type", flat=True))
        assert {"QuestionnaireResponse", "DocumentReference", "DiagnosticReport", "Observation", "Encounter"} <= types
        # Stored for the workflows: lab results with flags and ranges, consents, visits without a referral.
        assert DiagnosticReport.objects.filter(status="amended").exists() or DiagnosticReport.objects.count() > 10
        assert Observation.objects.exclude(interpretation__endswith="|N").exists()
        assert Observation.objects.exclude(reference_high=None).exists()
        assert DocumentReference.objects.exists() and Encounter.objects.exists()
        assert ServiceRequest.objects.filter(category__endswith="108252007").exists()

        # The referral workflow: items in several states, opened over the window, not all "now".
        now = timezone.now()
        referrals = Referral.objects.filter(source__name="demo-ehr")
        assert len(set(referrals.values_list("state", flat=True))) >= 5
        opened = sorted(referrals.values_list("opened_at", flat=True))
        assert opened[0] < now - timedelta(days=9) and opened[-1] > now - timedelta(days=2)
        # Staff worked them through the services, at times spread over the window and after opening.
        staff = Transition.objects.filter(workflow="referral", source="staff")
        assert staff.count() > 10
        assert staff.filter(at__lt=now - timedelta(days=5)).exists()
        for transition in staff[:50]:
            referral = Referral.objects.get(pk=transition.item_id)
            assert referral.opened_at <= transition.at <= now + timedelta(seconds=5)

        # Results: the lab results reached the demo clinician (linked GPs) and the North pool (the one
        # unlinked GP); the clinician reviewed them, critical ones fastest, and an MA told the patients.
        results = ResultItem.objects.filter(source__name="demo-ehr").exclude(state="voided")
        assert results.filter(ordering_clinician__username="clinician").exists()
        assert results.filter(ordering_clinician=None, unassigned_reason__contains="prac-ref5").exists()
        staff_results = Transition.objects.filter(workflow="result", source="staff")
        assert {"review", "close"} <= set(staff_results.values_list("transition", flat=True))
        assert staff_results.filter(actor__username="clinician", transition="review").exists()
        if results.filter(follow_up__in=["notify_only", "repeat_test", "appointment"]).exists():
            assert staff_results.filter(actor__username__in=["ma", "supervisor"], transition="notify").exists()
        for item in results.exclude(reviewed_at=None):
            assert item.reviewed_by.username == "clinician" and item.opened_at <= item.reviewed_at

        # Intake: every booked visit at a demo site has an intake; staff called patients and ticked lines.
        intakes = Intake.objects.filter(source__name="demo-ehr")
        assert intakes.count() >= 10 and set(intakes.values_list("site__code", flat=True)) >= {"north", "south"}
        assert Outreach.objects.filter(
            workflow="intake", item_id__in=intakes.values("pk"), by__username__in=["ma", "supervisor"]
        ).exists()
        ticked = IntakeCheck.objects.filter(intake__in=intakes, done_source="staff")
        assert ticked.exists() and set(ticked.values_list("key", flat=True)) <= {
            "demographics",
            "insurance",
            "medications",
        }
        assert IntakeCheck.objects.filter(intake__in=intakes, done_source="ehr").exists()  # questionnaires, consents

        before = snapshot()
        call_command("demo_start", "--days", "12")
        assert "kept" in capsys.readouterr().out
        assert snapshot() == before
        call_command("seed_demo")
        assert snapshot() == before

    def test_the_front_desk_checks_in_on_the_day_once(self, seeded):
        ctx = StaffContext(source_name="demo-ehr")
        waiting = Intake.objects.filter(
            source__name="demo-ehr", state__in=["pending", "outreach", "in_progress"], visit_start__gt=timezone.now()
        ).select_related("appointment")
        intake = next(
            i for i in waiting if ctx.rng(f"intake:{i.appointment.fhir_id}:check_in").random() < CHECK_IN
        )  # one the seeded desk checks in
        arrived = intake.visit_start + timedelta(minutes=5)
        with time_machine.travel(arrived, tick=False):
            staff_simulate(source_name="demo-ehr", now=arrived)
            intake.refresh_from_db()
            assert intake.state == "checked_in" and intake.arrived_at == arrived
            log = Transition.objects.filter(workflow="intake", item_id=intake.pk, transition="check_in").get()
            assert log.source == "staff" and log.actor.username in {"ma", "supervisor"}
            staff_simulate(source_name="demo-ehr", now=arrived)
        assert Transition.objects.filter(workflow="intake", item_id=intake.pk, transition="check_in").count() == 1

    def test_first_start_plans_patient_reminders_for_the_coming_visits(self, seeded):
        from apps.notifications.models import ClinicContact, PatientMessage

        out, _ = seeded
        texts = PatientMessage.objects.filter(channel="sms")
        # The demo's patients have mobile numbers (and no email): each text is queued for the
        # console backend (sent after commit, or by the relay).
        assert texts.exists() and set(texts.values_list("status", flat=True)) <= {"pending", "sent"}
        assert f"Patient reminders: {texts.count()} queued" in out and ClinicContact.objects.exists()
