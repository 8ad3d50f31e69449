"""Review, acknowledge, notify, follow-up and close; SLA per criticality and escalation (to the
covering clinician or the supervisor queue) with time-machine; amended and corrected results."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied

from apps.core.errors import ApplicationError, ConflictError
from apps.core.roles import Role
from apps.results import services
from apps.results.models import Coverage, ResultItem
from apps.results.workflow import FollowUp, State
from apps.workflow.models import Transition
from apps.workflow.services import sla_policies_load, sla_sweep
from tests.plugins.core import UserFactory
from tests.plugins.results import result_make

from .ehr_feed import feed, link, make_source, observation, report

pytestmark = pytest.mark.django_db
MONDAY_9_NY = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # 09:00 in New York


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def lab(db):
    sla_policies_load()
    source, site = make_source()
    site.timezone = "America/New_York"
    site.save()
    dr = UserFactory(username="drlee", first_name="Dana", last_name="Lee", role=Role.CLINICIAN, sites=[site])
    link(source, "Practitioner/dr-a", dr, site)
    return source, site, dr


def log(item):
    return list(Transition.objects.filter(workflow="result", item_id=item.pk).values_list("transition", flat=True))


def test_review_with_no_follow_up_closes_and_records_what_kpis_need(lab, make_user):
    _, site, dr = lab
    item = result_make(site, assignee=dr)
    services.result_review(item_id=item.pk, by=dr, follow_up=FollowUp.NONE)
    item.refresh_from_db()
    assert (item.state, item.is_open, item.reviewed_by) == (State.CLOSED, False, dr) and item.reviewed_at
    assert log(item) == ["review", "close"]


def test_the_full_path_review_notify_book_close(lab):
    _, site, dr = lab
    ma = UserFactory(role=Role.MEDICAL_ASSISTANT, sites=[site])
    item = result_make(site, criticality="abnormal", assignee=dr)
    with pytest.raises(ApplicationError, match="what to book"):
        services.result_review(item_id=item.pk, by=dr, follow_up=FollowUp.REPEAT_TEST)
    services.result_review(item_id=item.pk, by=dr, follow_up=FollowUp.REPEAT_TEST, note="Repeat HbA1c in 3 months")
    with pytest.raises(PermissionDenied):
        services.result_notify(item_id=item.pk, by=dr, method="phone")  # clinicians do not work the MA steps
    services.result_notify(item_id=item.pk, by=ma, method="phone", note="Spoke to patient")
    item.refresh_from_db()
    assert (item.state, item.queue, item.notification_method) == (State.PATIENT_NOTIFIED, "follow_up", "phone")
    assert item.notified_at is not None
    with pytest.raises(ConflictError):
        services.result_close(item_id=item.pk, by=ma)  # the repeat test is not booked yet
    services.result_schedule_follow_up(item_id=item.pk, by=ma, note="Lab visit 2026-06-01")
    services.result_close(item_id=item.pk, by=ma)
    item.refresh_from_db()
    assert item.state == State.CLOSED and log(item) == ["review", "notify", "schedule_follow_up", "close"]


def test_bulk_acknowledge_takes_only_normal_results_all_or_none(lab):
    _, site, dr = lab
    normal = [result_make(site, assignee=dr) for _ in range(3)]
    abnormal = result_make(site, criticality="abnormal", assignee=dr)
    with pytest.raises(ConflictError, match=f"#{abnormal.pk}"):
        services.results_acknowledge(item_ids=[n.pk for n in normal] + [abnormal.pk], by=dr)
    assert ResultItem.objects.filter(state=State.NEW).count() == 4  # nothing changed
    services.results_acknowledge(item_ids=[n.pk for n in normal], by=dr)
    assert set(ResultItem.objects.filter(pk__in=[n.pk for n in normal]).values_list("state", flat=True)) == {"closed"}


def test_a_clinician_at_another_site_cannot_review(lab, other_site):
    _, site, _ = lab
    stranger = UserFactory(role=Role.CLINICIAN, sites=[other_site])
    item = result_make(site)
    with pytest.raises(PermissionDenied, match="site"):
        services.result_review(item_id=item.pk, by=stranger, follow_up=FollowUp.NONE)


def test_critical_is_due_in_an_hour_wall_clock_abnormal_in_three_business_days(lab, capture):
    source, _, _ = lab
    with time_machine.travel(MONDAY_9_NY, tick=False):
        feed(source, observation("crit", interpretation="HH"), observation("abn", interpretation="H"),
             observation("norm", interpretation="N"), capture=capture)  # fmt: skip
    due = dict(ResultItem.objects.values_list("resource_id", "due_at"))
    assert due["crit"] == MONDAY_9_NY + timedelta(hours=1)
    # 27 business hours (08:00–17:00): Monday 8 h, Tuesday 9, Wednesday 9, Thursday 08:00–09:00.
    assert due["abn"] == datetime(2026, 3, 5, 14, 0, tzinfo=UTC)
    # 63 business hours: the next Wednesday 09:00, in daylight-saving time from 8 March (UTC-4).
    assert due["norm"] == datetime(2026, 3, 11, 13, 0, tzinfo=UTC)


def test_a_critical_result_not_reviewed_in_time_escalates_to_the_supervisor_queue(lab, capture):
    source, _, dr = lab
    with time_machine.travel(MONDAY_9_NY, tick=False):
        feed(source, observation(interpretation="HH"), capture=capture)
    with time_machine.travel(MONDAY_9_NY + timedelta(minutes=59), tick=False):
        assert sla_sweep() == 0
    with time_machine.travel(MONDAY_9_NY + timedelta(minutes=61), tick=False):
        assert sla_sweep() == 1
        assert sla_sweep() == 0  # once
    item = ResultItem.objects.get()
    assert (item.state, item.queue, item.assignee) == (State.ESCALATED, "supervisor", dr)
    escalation = Transition.objects.get(workflow="result", transition="escalate")
    assert escalation.source == "timer" and "supervisor queue" in escalation.reason
    # Escalated results can still be reviewed.
    services.result_review(item_id=item.pk, by=dr, follow_up=FollowUp.NOTIFY_ONLY)
    assert ResultItem.objects.get().state == State.REVIEWED


def test_covering_new_results_and_escalations_go_to_the_colleague(lab, capture):
    source, site, dr = lab
    cover = UserFactory(username="drkim", first_name="Kim", last_name="Park", role=Role.CLINICIAN, sites=[site])
    with time_machine.travel(MONDAY_9_NY, tick=False):
        feed(source, observation("before", interpretation="HH"), capture=capture)
        services.coverage_set(by=dr, covered_by_id=cover.pk, starts_at=MONDAY_9_NY + timedelta(minutes=5),
                              ends_at=MONDAY_9_NY + timedelta(days=2))  # fmt: skip
    with time_machine.travel(MONDAY_9_NY + timedelta(minutes=10), tick=False):
        feed(source, observation("during", interpretation="N"), capture=capture)
    during = ResultItem.objects.get(resource_id="during")
    assert (during.ordering_clinician, during.assignee) == (dr, cover)
    with time_machine.travel(MONDAY_9_NY + timedelta(minutes=61), tick=False):
        sla_sweep()
    before = ResultItem.objects.get(resource_id="before")
    assert (before.state, before.assignee, before.queue) == (State.ESCALATED, cover, "review")
    assert "covering for" in Transition.objects.get(workflow="result", transition="escalate").reason
    with time_machine.travel(MONDAY_9_NY + timedelta(days=3), tick=False):
        feed(source, observation("after", interpretation="N"), capture=capture)
    assert ResultItem.objects.get(resource_id="after").assignee == dr  # the cover has ended


def test_coverage_needs_a_clinician_colleague_and_a_sane_period(lab, other_site):
    _, site, dr = lab
    now = datetime.now(UTC)
    ma = UserFactory(role=Role.MEDICAL_ASSISTANT, sites=[site])
    far = UserFactory(role=Role.CLINICIAN, sites=[other_site])
    with pytest.raises(ApplicationError, match="another clinician"):
        services.coverage_set(by=dr, covered_by_id=ma.pk, starts_at=now, ends_at=now + timedelta(days=1))
    with pytest.raises(ApplicationError, match="one of your sites"):
        services.coverage_set(by=dr, covered_by_id=far.pk, starts_at=now, ends_at=now + timedelta(days=1))
    with pytest.raises(ApplicationError, match="end after"):
        services.coverage_set(by=dr, covered_by_id=far.pk, starts_at=now, ends_at=now - timedelta(hours=1))
    assert not Coverage.objects.exists()


def test_an_amended_result_reopens_a_closed_item_and_says_what_changed(lab, capture):
    source, _, dr = lab
    feed(source, observation(value=5.0, interpretation="N"), capture=capture)
    item = ResultItem.objects.get()
    services.result_review(item_id=item.pk, by=dr, follow_up=FollowUp.NONE)
    feed(source, observation(version="2", status="amended", value=9.8, interpretation="H"), capture=capture)
    item.refresh_from_db()
    assert (item.state, item.is_open, item.queue, item.criticality) == (State.NEW, True, "review", "abnormal")
    assert "value 5.0 → 9.8" in item.changes and "status final → amended" in item.changes
    assert "criticality normal → abnormal" in item.changes and item.reviewed_at is None and item.assignee == dr
    assert log(item)[-1] == "reopen"


def test_the_same_version_twice_changes_nothing(lab, capture):
    source, _, _ = lab
    feed(source, observation(), capture=capture)
    feed(source, observation(), capture=capture)
    item = ResultItem.objects.get()
    assert log(item) == ["receive"]


def test_a_corrected_report_value_reopens_the_report(lab, capture):
    source, _, dr = lab
    feed(source, observation("o1", interpretation="N"), report(results=("o1",)), capture=capture)
    item = ResultItem.objects.get(resource_type="DiagnosticReport")
    services.result_review(item_id=item.pk, by=dr, follow_up=FollowUp.NOTIFY_ONLY)
    feed(source, observation("o1", version="2", status="corrected", value=2.1, interpretation="LL"),
         report(version="2", status="corrected", results=("o1",)), capture=capture)  # fmt: skip
    item.refresh_from_db()
    assert item.state == State.NEW and item.criticality == "critical" and "value 5.5 → 2.1" in item.changes
    assert item.follow_up == ""


def test_entered_in_error_voids_a_reviewed_result_with_the_reason(lab, capture):
    source, _, dr = lab
    feed(source, observation(), capture=capture)
    item = ResultItem.objects.get()
    services.result_review(item_id=item.pk, by=dr, follow_up=FollowUp.NOTIFY_ONLY)
    feed(source, observation(version="2", status="entered-in-error"), capture=capture)
    item.refresh_from_db()
    assert (item.state, item.is_open) == (State.VOIDED, False) and "entered-in-error" in item.void_reason


def test_a_mapping_made_active_takes_held_results_out_of_the_exceptions_queue(lab, capture):
    from .ehr_feed import INTERPRETATION_ROWS, interpretation_map

    source, _, _ = lab
    feed(source, observation(interpretation="W"), capture=capture)
    assert ResultItem.objects.get().queue == "exceptions"
    interpretation_map((*INTERPRETATION_ROWS, ("W", "critical")), hooks=capture)
    item = ResultItem.objects.get()
    assert (item.queue, item.criticality, item.exception_reason) == ("review", "critical", "")
