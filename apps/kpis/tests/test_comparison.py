"""Honest comparison: intervals against published answers, difference in differences on a
constructed pilot with a control site, and a gain that fades after the first weeks."""

import csv
import io
from datetime import date, timedelta

import numpy as np
import pytest
from django.urls import reverse

from apps.core.roles import Role
from apps.kpis import stats
from apps.kpis.scope import Scope
from apps.kpis.selectors import comparison_get

from .history import log, referral, utc

BASE = (date(2026, 2, 2), date(2026, 2, 15))
PILOT = (date(2026, 3, 2), date(2026, 3, 15))


# --- intervals: Newcombe (1998) "Two-sided confidence intervals for the single proportion" and
# "Interval estimation for the difference between independent proportions", method 10.


def test_wilson_interval_matches_newcombe():
    low, high = stats.wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    low, high = stats.wilson(0, 20)
    assert (round(low, 4), round(high, 4)) == (0.0, 0.1611)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [((56, 70, 48, 80), (0.0524, 0.3339)), ((9, 10, 3, 10), (0.1705, 0.8090)), ((5, 56, 0, 29), (-0.0381, 0.1926))],
)
def test_rate_difference_matches_newcombe_method_10(counts, expected):
    interval = stats.rate_difference(*counts)
    assert (round(interval.low, 4), round(interval.high, 4)) == expected


def test_the_bootstrap_of_constant_samples_is_exact():
    interval = stats.bootstrap_difference([10.0] * 30, [4.0] * 40)
    assert (interval.estimate, interval.low, interval.high) == (6, 6, 6)


def test_the_bootstrap_finds_a_real_shift_and_not_a_false_one():
    rng = np.random.default_rng(3)
    shifted = stats.bootstrap_difference(rng.normal(10, 2, 400), rng.normal(8, 2, 400))
    assert shifted.low > 0 and shifted.low < 2 < shifted.high
    same = stats.bootstrap_difference(rng.normal(10, 2, 400), rng.normal(10, 2, 400))
    assert same.spans_zero


@pytest.mark.parametrize("kind", ["median", "p90", "mean"])
def test_large_samples_draw_the_statistic_as_resampling_would(kind, monkeypatch):
    rng = np.random.default_rng(5)
    a, b = rng.exponential(5, 1500), rng.exponential(4, 1500)
    resampled = stats.bootstrap_difference(a, b, kind)
    monkeypatch.setattr(stats, "RESAMPLE_LIMIT", 100)  # the order-statistic / normal path
    drawn = stats.bootstrap_difference(a, b, kind)
    assert drawn.estimate == resampled.estimate
    width = resampled.high - resampled.low
    assert abs(drawn.low - resampled.low) < 0.15 * width and abs(drawn.high - resampled.high) < 0.15 * width


# --- on constructed histories --------------------------------------------------------


def triaged(site, day: date, hours: float, n: int, *, escalated: bool = False) -> None:
    """``n`` referrals received 14:00 UTC on ``day``, accepted after ``hours``."""
    for _ in range(n):
        opened = utc(day.year, day.month, day.day, 14)
        made = referral(site, opened)
        if escalated:
            log(made, "escalate", "triage", opened + timedelta(hours=hours / 2), source="timer")
        log(made, "accept", "accepted", opened + timedelta(hours=hours), role="clinician")


@pytest.fixture
def pilot_and_control(own_site, other_site):
    """The pilot site triages in 30 h before and 10 h during the pilot; the control site goes
    from 30 h to 25 h over the same periods (something else sped everyone up by 5 h)."""
    for day in (BASE[0] + timedelta(days=d) for d in range(0, 10, 2)):
        triaged(own_site, day, 30, 2)
        triaged(other_site, day, 30, 2)
    for day in (PILOT[0] + timedelta(days=d) for d in range(0, 10, 2)):
        triaged(own_site, day, 10, 2)
        triaged(other_site, day, 25, 2)


@pytest.mark.django_db
def test_difference_in_differences_takes_out_the_control_sites_change(pilot_and_control, own_site, other_site):
    rows = {
        c.kpi.key: c
        for c in comparison_get(Scope(*PILOT, (own_site,)), Scope(*BASE, (own_site,)), controls=(other_site,))
    }
    triage = rows["referral_triage_median"]
    assert (triage.pilot.n, triage.baseline.n, triage.control_n) == (10, 10, 20)
    assert (triage.interval.estimate, triage.interval.low, triage.interval.high) == (-20, -20, -20)
    assert triage.verdict == "Pilot better"
    assert (triage.did.estimate, triage.did.low, triage.did.high) == (-15, -15, -15)
    assert triage.did_better is True


@pytest.mark.django_db
def test_rates_compare_with_counts_and_an_interval(own_site):
    # Baseline: 2 of 10 triaged within SLA; pilot: 9 of 10.
    triaged(own_site, BASE[0], 10, 8, escalated=True)
    triaged(own_site, BASE[0], 10, 2)
    triaged(own_site, PILOT[0], 10, 1, escalated=True)
    triaged(own_site, PILOT[0], 10, 9)
    rows = {c.kpi.key: c for c in comparison_get(Scope(*PILOT, (own_site,)), Scope(*BASE, (own_site,)))}
    sla = rows["referral_triaged_within_sla"]
    assert (sla.pilot.n, sla.baseline.n) == (10, 10)
    expected = stats.rate_difference(9, 10, 2, 10)
    assert sla.interval.estimate == pytest.approx(70)
    assert sla.interval.low == pytest.approx(100 * expected.low)
    assert sla.interval.high == pytest.approx(100 * expected.high)
    assert sla.verdict == "Pilot better"


@pytest.mark.django_db
def test_a_gain_that_fades_after_the_first_weeks_is_flagged(own_site):
    pilot = Scope(date(2026, 3, 2), date(2026, 3, 29), (own_site,))  # four weeks
    baseline = Scope(*BASE, (own_site,))
    triaged(own_site, BASE[0], 30, 6)
    for week, hours in enumerate([10, 10, 30, 30]):
        triaged(own_site, pilot.start + timedelta(days=7 * week + 1), hours, 3)
    triage = {c.kpi.key: c for c in comparison_get(pilot, baseline)}["referral_triage_median"]
    assert triage.fading is True


@pytest.mark.django_db
def test_a_gain_that_holds_is_not_flagged(own_site):
    pilot = Scope(date(2026, 3, 2), date(2026, 3, 29), (own_site,))
    triaged(own_site, BASE[0], 30, 6)
    for week in range(4):
        triaged(own_site, pilot.start + timedelta(days=7 * week + 1), 10, 3)
    triage = {c.kpi.key: c for c in comparison_get(pilot, Scope(*BASE, (own_site,)))}["referral_triage_median"]
    assert triage.verdict == "Pilot better" and triage.fading is False


@pytest.mark.django_db
def test_the_page_and_csv_show_the_control_comparison(client, make_user, pilot_and_control, own_site, other_site):
    client.force_login(make_user(Role.LEADER, sites=[own_site, other_site]))
    query = {
        "start": PILOT[0].isoformat(), "end": PILOT[1].isoformat(), "site": own_site.code, "compare": "period",
        "base_start": BASE[0].isoformat(), "base_end": BASE[1].isoformat(), "controls": [other_site.code],
    }  # fmt: skip
    page = client.get(reverse("kpis:scorecard"), query).content.decode()
    assert "Against controls" in page and "Other Hospital" in page
    assert "95 % interval -20 to -20 h" in page
    rows = list(csv.DictReader(io.StringIO(client.get(reverse("kpis:export"), query).content.decode())))
    triage = next(r for r in rows if r["kpi"] == "Time to triage (median)")
    assert (triage["verdict"], triage["against controls"], triage["control items"]) == ("Pilot better", "-15.0", "20")


@pytest.mark.django_db
def test_control_sites_need_a_pilot_site_and_a_baseline_period(client, make_user, own_site, other_site):
    client.force_login(make_user(Role.LEADER, sites=[own_site, other_site]))
    query = {"start": PILOT[0].isoformat(), "end": PILOT[1].isoformat(), "controls": [other_site.code]}
    response = client.get(reverse("kpis:scorecard"), query)
    assert response.status_code == 400 and "choose another period as the baseline" in response.content.decode()
    query |= {"compare": "period", "base_start": BASE[0].isoformat(), "base_end": BASE[1].isoformat()}
    response = client.get(reverse("kpis:scorecard"), query)
    assert response.status_code == 400 and "Choose one pilot site above" in response.content.decode()
