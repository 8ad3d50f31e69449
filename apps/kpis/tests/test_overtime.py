"""Overtime: staff time spent beyond the staffed hours leaders enter per site and week (or a
standing weekly figure), in hours and money; against a baseline, the overtime avoided. The
staffing page is for leaders (supervisors read it), audited, and refuses bad input."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from apps.core.roles import Role
from apps.kpis.definitions import kpi_get
from apps.kpis.engine import evaluate
from apps.kpis.models import LabourCost, StaffedHours
from apps.kpis.scope import Scope
from apps.kpis.selectors import comparison_get
from apps.workflow.models import Outreach, Transition
from tests.plugins.plain_words import internal_words
from tests.plugins.referrals import ReferralFactory

from .history import utc

pytestmark = pytest.mark.django_db
MONDAY = date(2026, 3, 2)  # two weeks: 2–8 and 9–15 March (New York)
KPIS = ["capacity_overtime_hours", "capacity_overtime_cost"]


def triage(site, at, n):
    """n triage decisions (5 standard minutes each) by staff at ``at``."""
    Transition.objects.bulk_create(
        Transition(
            workflow="referral",
            item_id=1000 + i,
            site_id=site.pk,
            transition="triage",
            from_state="received",
            to_state="triage",
            actor_role="scheduler",
            source="staff",
            at=at,
        )
        for i in range(n)
    )


@pytest.fixture
def work(own_site, make_user):
    """Week 1: 120 triage decisions (10 h) and 20 phone calls (2 h): 12 h spent; week 2: 48 (4 h)."""
    leader = make_user(Role.LEADER)
    triage(own_site, utc(2026, 3, 3, 15), 120)
    referral = ReferralFactory(site=own_site)
    Outreach.objects.bulk_create(
        Outreach(
            workflow="referral",
            item_id=referral.pk,
            site=own_site,
            by=leader,
            channel="phone",
            outcome="reached",
            at=utc(2026, 3, 4, 15),
        )
        for _ in range(20)
    )
    triage(own_site, utc(2026, 3, 10, 15), 48)
    return leader


def test_overtime_is_time_spent_beyond_the_staffed_hours(own_site, work):
    scope = Scope(MONDAY, MONDAY + timedelta(days=13), (own_site,))
    got = evaluate([kpi_get(k) for k in KPIS], scope)
    assert got["capacity_overtime_hours"].value is None  # no staffed hours entered: not counted
    StaffedHours.objects.create(site=own_site, week_start=None, hours=8, set_by=work)  # a usual week
    StaffedHours.objects.create(site=own_site, week_start=date(2026, 3, 9), hours=2, set_by=work)
    LabourCost.objects.create(site=own_site, per_hour=Decimal("40.00"), set_by=work)
    got = evaluate([kpi_get(k) for k in KPIS], scope)
    hours, cost = got["capacity_overtime_hours"], got["capacity_overtime_cost"]
    # Week 1: 12 h spent, 8 staffed → 4 h; week 2: 4 h spent, 2 staffed (its own figure) → 2 h.
    assert (hours.value, hours.n, hours.weeks) == (6, 2, [4, 2])
    assert (cost.value, cost.weeks) == (240, [160, 80])
    # A short period counts its share of the week's staffed hours: 3 days of 8 h a week.
    short = evaluate([kpi_get("capacity_overtime_hours")], Scope(MONDAY, MONDAY + timedelta(days=2), (own_site,)))
    assert short["capacity_overtime_hours"].value == pytest.approx(12 - 8 * 3 / 7, abs=0.01)


def test_overtime_avoided_against_a_baseline(own_site, work):
    StaffedHours.objects.create(site=own_site, week_start=None, hours=8, set_by=work)
    pilot = Scope(MONDAY + timedelta(days=7), MONDAY + timedelta(days=13), (own_site,))
    baseline = Scope(MONDAY, MONDAY + timedelta(days=6), (own_site,))
    row = next(c for c in comparison_get(pilot, baseline) if c.kpi.key == "capacity_overtime_hours")
    assert (row.pilot.value, row.baseline.value) == (0, 4)
    assert row.gain == "4.0 overtime hours avoided (pilot 0.0, baseline 4.0)"


def test_leaders_set_staffed_hours_and_cost_audited(own_site, make_user, client):
    leader = make_user(Role.LEADER)
    client.force_login(leader)
    url = reverse("kpis:staffing", args=[own_site.code])
    response = client.post(url, {"standing": "400", "per_hour": "38.50", "week": "2026-03-09", "week_hours": "380"})
    assert response.status_code == 302 and response.url == url
    assert StaffedHours.objects.get(site=own_site, week_start=None).hours == 400
    assert StaffedHours.objects.get(site=own_site, week_start=date(2026, 3, 9)).hours == 380
    assert LabourCost.objects.get(site=own_site).per_hour == Decimal("38.50")
    assert LogEntry.objects.filter(actor=leader, content_type__model="staffedhours").count() == 2
    page = client.get(url).text
    assert "Week of" in page and "380 h" in page and "38.50" in page
    cleared = client.post(url, {"standing": "400", "per_hour": "38.50", "week": "2026-03-09", "clear_week": "on"})
    assert cleared.status_code == 302 and not StaffedHours.objects.filter(week_start__isnull=False).exists()


def test_bad_staffing_input_is_a_400_and_supervisors_only_read(own_site, make_user, client):
    client.force_login(make_user(Role.LEADER))
    url = reverse("kpis:staffing", args=[own_site.code])
    not_monday = client.post(url, {"standing": "40", "week": "2026-03-10", "week_hours": "30"})
    assert not_monday.status_code == 400 and "Give the Monday" in not_monday.text
    assert client.post(url, {"standing": "-3"}).status_code == 400
    assert not StaffedHours.objects.exists()
    client.force_login(make_user(Role.SUPERVISOR))
    assert "The site's leaders set them" in client.get(url).text
    assert client.post(url, {"standing": "40"}).status_code == 403


def test_the_new_pages_and_tiles_are_in_plain_words(own_site, work, client):
    StaffedHours.objects.create(site=own_site, week_start=date(2026, 3, 9), hours=2, set_by=work)
    client.force_login(work)
    pages = [
        reverse("kpis:staffing", args=[own_site.code]),
        reverse("kpis:minutes", args=[own_site.code]),
        reverse("kpis:scorecard") + f"?site={own_site.code}&start=2026-03-02&end=2026-03-15",
    ]
    for url in pages:
        html = client.get(url).text
        assert internal_words(html) == [], url
    card = client.get(pages[2]).text
    for tile in ("Overtime hours", "Overtime cost", "Visit slots recovered", "Outreach time: phone"):
        assert tile in card
