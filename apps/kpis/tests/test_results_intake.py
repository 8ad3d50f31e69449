"""Results and intake KPIs on small hand-made histories with known answers (New York site,
2–15 March 2026: the clocks go forward on 8 March; the period ends 16 March 04:00 UTC)."""

from datetime import date, timedelta
from typing import Any

import pytest
from django.urls import reverse

from apps.core.models import AccessLog
from apps.core.roles import Role
from apps.intake.models import Intake
from apps.kpis.definitions import kpi_all, kpi_get
from apps.kpis.engine import evaluate
from apps.kpis.scope import Scope
from apps.kpis.selectors import kpi_items_list
from apps.workflow.models import Transition
from tests.plugins.intake import intake_make
from tests.plugins.results import result_make

from .history import END, START, utc

pytestmark = pytest.mark.django_db
RESULT_KPIS = [k for k in kpi_all() if k.key.startswith("result_")]
INTAKE_KPIS = [k for k in kpi_all() if k.key.startswith("intake_")]


def log(item: Any, name: str, to_state: str, at: Any, *, source: str = "staff") -> None:
    Transition.objects.create(
        workflow="result", item_id=item.pk, site_id=item.site_id, transition=name, from_state="",
        to_state=to_state, source=source, at=at, service_line_id=item.service_line_id,
    )  # fmt: skip


def result(site: Any, criticality: str, received: Any) -> Any:
    item = result_make(site, criticality=criticality)
    log(item, "receive", "new", received, source="ehr")
    return item


@pytest.fixture
def results(own_site):
    """Review hours: critical r1 2 (escalated first), r2 0.5; abnormal r3 24, r4 7.5 (reviewed
    23:30 local on the last day); normal r8 24 (reviewed again after an amendment), r5 reviewed
    00:30 local the day after. r6 (from February) is never reviewed; r7 is voided unread."""
    r1 = result(own_site, "critical", utc(2026, 3, 3, 12))
    log(r1, "escalate", "escalated", utc(2026, 3, 3, 13), source="timer")
    log(r1, "review", "reviewed", utc(2026, 3, 3, 14))
    log(r1, "notify", "patient_notified", utc(2026, 3, 3, 18))
    r2 = result(own_site, "critical", utc(2026, 3, 10, 12))
    log(r2, "review", "reviewed", utc(2026, 3, 10, 12, 30))
    r3 = result(own_site, "abnormal", utc(2026, 3, 4, 10))
    log(r3, "review", "reviewed", utc(2026, 3, 5, 10))
    log(r3, "notify", "patient_notified", utc(2026, 3, 6, 10))
    r4 = result(own_site, "abnormal", utc(2026, 3, 15, 20))
    log(r4, "review", "reviewed", utc(2026, 3, 16, 3, 30))
    r5 = result(own_site, "normal", utc(2026, 3, 14, 10))
    log(r5, "review", "reviewed", utc(2026, 3, 16, 4, 30))
    r6 = result(own_site, "normal", utc(2026, 3, 1, 10))
    r7 = result(own_site, "normal", utc(2026, 3, 5, 10))
    log(r7, "void", "voided", utc(2026, 3, 6, 10))
    r8 = result(own_site, "normal", utc(2026, 3, 11, 10))
    log(r8, "review", "reviewed", utc(2026, 3, 12, 10))
    log(r8, "reopen", "new", utc(2026, 3, 13, 10), source="ehr")
    log(r8, "review", "reviewed", utc(2026, 3, 13, 12))
    return {"r1": r1, "r2": r2, "r3": r3, "r4": r4, "r5": r5, "r6": r6, "r7": r7, "r8": r8}


def test_result_kpis_on_a_known_history(results, own_site):
    got = evaluate(RESULT_KPIS, Scope(START, END, (own_site,)))
    assert (got["result_review_critical"].value, got["result_review_critical"].n) == (1.25, 2)
    assert got["result_review_critical"].weeks == [2, 0.5]
    # r4's review at 23:30 local on the 15th is in; r5's at 00:30 local on the 16th is not.
    assert (got["result_review_abnormal"].value, got["result_review_abnormal"].n) == (15.75, 2)
    assert (got["result_review_normal"].value, got["result_review_normal"].n) == (24, 1)  # r8's first review
    assert got["result_critical_within_sla"].value == 50  # r1 was escalated before its review
    assert got["result_time_to_notification"].value == 27  # r1 6 h, r3 48 h


def test_unread_backlog_and_its_aging_at_the_period_end(results, own_site):
    got = evaluate(RESULT_KPIS, Scope(START, END, (own_site,)))
    # At 16 March 00:00 local: r5 (reviewed 30 minutes later) and r6 are unread; r7 was voided.
    assert got["result_unread_backlog"].value == 2
    # At the end of week 1 (9 March 00:00 EDT): only r6 (r1, r3 reviewed, r7 voided).
    assert got["result_unread_backlog"].weeks == [1, 2]
    assert got["result_unread_over_24h"].value == 2  # r5 waited 42 h, r6 two weeks
    assert got["result_unread_over_72h"].value == 1  # r6 only
    assert got["result_unread_over_72h"].weeks == [1, 1]


def test_result_kpis_for_an_empty_period(results, own_site):
    got = evaluate(RESULT_KPIS, Scope(date(2025, 1, 1), date(2025, 1, 31), (own_site,)))
    assert got["result_review_critical"].value is None and got["result_review_critical"].n == 0
    assert got["result_critical_within_sla"].value is None
    assert got["result_unread_backlog"].value == 0 and got["result_unread_over_72h"].value == 0


def test_the_day_after_counts_the_late_review(results, own_site):
    day = END + timedelta(days=1)
    got = evaluate([kpi_get("result_review_normal")], Scope(day, day, (own_site,)))
    assert (got["result_review_normal"].value, got["result_review_normal"].n) == (42.5, 1)  # r5


def test_result_drill_down_names_the_items_and_patients(results, own_site):
    rows = kpi_items_list(kpi_get("result_review_critical"), Scope(START, END, (own_site,)))
    assert [row["item_id"] for row in rows] == [results["r1"].pk, results["r2"].pk]  # longest first
    assert all(row["workflow"] == "result" and row["patient_ref"].startswith("Patient/") for row in rows)


def test_other_sites_see_no_results(results, other_site):
    got = evaluate(RESULT_KPIS, Scope(START, END, (other_site,)))
    assert got["result_review_critical"].value is None
    assert got["result_unread_backlog"].value == 0


def intake(site: Any, visit: Any, *, state: str = "pending", **fields: Any) -> Intake:
    made = intake_make(site)
    Intake.objects.filter(pk=made.pk).update(
        visit_start=visit, visit_date=visit.astimezone(site.tzinfo).date(), state=state, **fields
    )
    return made


@pytest.fixture
def visits(own_site):
    """Check-in minutes: i1 8, i2 20, i5 2 (visit 23:30 local on the last day), i8 0 (check-in
    recorded before arrival); i3 no-show; i4 cancelled; i7 not settled; i6 a no-show 00:30
    local the day after the period."""
    i1 = intake(own_site, utc(2026, 3, 3, 14), state="checked_in", arrived_at=utc(2026, 3, 3, 13, 50),
                checked_in_at=utc(2026, 3, 3, 13, 58), complete_before_visit=True)  # fmt: skip
    i2 = intake(own_site, utc(2026, 3, 4, 15), state="completed_late", arrived_at=utc(2026, 3, 4, 14, 55),
                checked_in_at=utc(2026, 3, 4, 15, 15), complete_before_visit=False)  # fmt: skip
    i3 = intake(own_site, utc(2026, 3, 5, 15), state="no_show", complete_before_visit=False)
    i4 = intake(own_site, utc(2026, 3, 6, 15), state="cancelled")
    i5 = intake(own_site, utc(2026, 3, 16, 3, 30), state="checked_in", arrived_at=utc(2026, 3, 16, 3, 20),
                checked_in_at=utc(2026, 3, 16, 3, 22), complete_before_visit=True)  # fmt: skip
    i6 = intake(own_site, utc(2026, 3, 16, 4, 30), state="no_show", complete_before_visit=True)
    i7 = intake(own_site, utc(2026, 3, 12, 15))
    i8 = intake(own_site, utc(2026, 3, 11, 15), state="checked_in", arrived_at=utc(2026, 3, 11, 15, 5),
                checked_in_at=utc(2026, 3, 11, 15), complete_before_visit=True)  # fmt: skip
    return {"i1": i1, "i2": i2, "i3": i3, "i4": i4, "i5": i5, "i6": i6, "i7": i7, "i8": i8}


def test_intake_kpis_on_a_known_history(visits, own_site):
    got = evaluate(INTAKE_KPIS, Scope(START, END, (own_site,)))
    # settled visits in the period: i1, i2, i3, i5, i8 (i4 cancelled, i7 unsettled, i6 the next day)
    assert (got["intake_complete_before_visit"].value, got["intake_complete_before_visit"].n) == (60, 5)
    assert (got["intake_no_show_rate"].value, got["intake_no_show_rate"].n) == (20, 5)
    assert (got["intake_check_in_minutes"].value, got["intake_check_in_minutes"].n) == (5, 4)  # 0, 2, 8, 20
    assert got["intake_check_in_minutes"].weeks == [14, 1]  # week 1: 8, 20; week 2: 0, 2


def test_intake_time_zone_edge_and_empty_period(visits, own_site):
    day = END + timedelta(days=1)
    got = evaluate(INTAKE_KPIS, Scope(day, day, (own_site,)))
    assert (got["intake_no_show_rate"].value, got["intake_no_show_rate"].n) == (100, 1)  # i6
    assert got["intake_check_in_minutes"].value is None
    empty = evaluate(INTAKE_KPIS, Scope(date(2025, 1, 1), date(2025, 1, 31), (own_site,)))
    assert all(r.value is None and r.n == 0 for r in empty.values())


def test_intake_drill_down_and_other_sites(visits, own_site, other_site):
    rows = kpi_items_list(kpi_get("intake_no_show_rate"), Scope(START, END, (own_site,)))
    assert {row["item_id"] for row in rows} == {visits[k].pk for k in ("i1", "i2", "i3", "i5", "i8")}
    assert rows[0]["item_id"] == visits["i3"].pk and rows[0]["value"] == 1
    assert all(row["workflow"] == "intake" and row["patient_ref"].startswith("Patient/") for row in rows)
    got = evaluate(INTAKE_KPIS, Scope(START, END, (other_site,)))
    assert got["intake_no_show_rate"].value is None


def test_the_scorecard_shows_the_new_tiles_and_a_supervisor_drills_into_intakes(client, make_user, results, visits):
    period = {"start": START.isoformat(), "end": END.isoformat()}
    user = make_user(Role.SUPERVISOR)
    client.force_login(user)
    page = client.get(reverse("kpis:scorecard"), period).content.decode()
    for name in ("Critical result review time (median)", "Unread results older than 72 h", "No-show rate"):
        assert name in page
    page = client.get(reverse("kpis:detail", args=["intake_no_show_rate"]), period).content.decode()
    assert visits["i3"].patient_ref in page and visits["i6"].patient_ref not in page
    logged = set(AccessLog.objects.filter(user=user, action="list").values_list("patient", flat=True))
    assert logged == {visits[k].patient_ref for k in ("i1", "i2", "i3", "i5", "i8")}
    # A backlog is a count at an instant: its page has the trend, not an item list.
    response = client.get(reverse("kpis:detail", args=["result_unread_backlog"]), period)
    assert response.status_code == 200 and results["r6"].patient_ref not in response.content.decode()
