"""Money and capacity: standard minutes per staff action turn the log into staff hours, and a
comparison turns differences into labour hours saved and no-shows avoided."""

import pytest

from apps.kpis.definitions import kpi_get
from apps.kpis.engine import Result, evaluate
from apps.kpis.scope import Scope
from apps.kpis.selectors import Comparison
from apps.kpis.stats import Interval

from .history import END, START, build


@pytest.mark.django_db
def test_staff_hours_from_standard_minutes(own_site):
    build(own_site)
    got = evaluate([kpi_get("money_staff_hours"), kpi_get("money_minutes_per_item")], Scope(START, END, (own_site,)))
    # Closed in the period: a (triage 5 + accept 4 + start scheduling 2 + 2 outreach × 6 = 23 min;
    # the EHR's booking and completion cost no staff time), b (decline 6), g (accept 4 + abandon 3;
    # the timer's escalations none): 36 min.
    assert (got["money_staff_hours"].value, got["money_staff_hours"].n) == (0.6, 3)
    assert got["money_minutes_per_item"].value == 12
    assert "Items closed in the period" in got["money_staff_hours"].kpi.definition


def test_minutes_saved_per_item_become_labour_hours_saved():
    kpi = kpi_get("money_minutes_per_item")
    row = Comparison(kpi, Result(kpi, 10, 40), Result(kpi, 16, 30), interval=Interval(-6, -9, -3))
    assert row.gain == "≈ 4.0 staff hours saved over the pilot's 40 items (95 % interval 2.0 to 6.0)"


def test_a_lower_no_show_rate_becomes_no_shows_avoided():
    kpi = kpi_get("intake_no_show_rate")
    row = Comparison(kpi, Result(kpi, 5, 200), Result(kpi, 10, 180), interval=Interval(-5, -8, -2))
    assert row.gain == "≈ 10.0 no-shows avoided over the pilot's 200 items (95 % interval 4.0 to 16.0)"
    other = kpi_get("referral_triage_median")
    assert Comparison(other, Result(other, 5, 2), Result(other, 6, 2), interval=Interval(-1, -2, 0)).gain == ""


@pytest.mark.django_db
def test_items_entered_by_hand_can_be_kept_apart(client, make_user, own_site):
    from django.urls import reverse

    from apps.core.roles import Role

    from .history import log, referral, utc

    build(own_site)
    fax = referral(own_site, utc(2026, 3, 9, 14), entered_by_hand=True)
    log(fax, "accept", "accepted", utc(2026, 3, 10, 16), role="clinician")  # 26 h
    kpi = kpi_get("referral_triage_median")
    by_hand = evaluate([kpi], Scope(START, END, (own_site,), by_hand=True))[kpi.key]
    from_ehr = evaluate([kpi], Scope(START, END, (own_site,), by_hand=False))[kpi.key]
    everything = evaluate([kpi], Scope(START, END, (own_site,)))[kpi.key]
    assert (by_hand.value, by_hand.n) == (26, 1)
    assert (from_ehr.value, from_ehr.n) == (15, 4)
    assert everything.n == 5
    client.force_login(make_user(Role.LEADER))
    page = client.get(reverse("kpis:scorecard"), {"start": START, "end": END, "entered": "hand"}).content.decode()
    assert "entered by hand only" in page


@pytest.mark.django_db
def test_a_leader_sets_the_sites_standard_minutes(client, make_user, own_site, other_site):
    from auditlog.models import LogEntry
    from django.urls import reverse

    from apps.core.roles import Role
    from apps.kpis.models import StandardMinutes

    build(own_site)
    leader = make_user(Role.LEADER, first_name="Dana", last_name="Lee")
    client.force_login(leader)
    url = reverse("kpis:minutes", args=[own_site.code])
    response = client.post(url, {"m_referral_decline": "16", "m_referral_triage": ""})
    assert response.status_code == 302 and response.url == url
    own = StandardMinutes.objects.get()
    assert (own.workflow, own.action, own.minutes, own.set_by) == ("referral", "decline", 16, leader)
    assert LogEntry.objects.get_for_object(own).get().actor == leader
    page = client.get(url).content.decode()
    assert "Saved: 1 standard time changed." in page and "Dana Lee&#x27;s for Own Clinic" in page
    # b's decline now costs 16 min instead of 6: 46 min over a, b and g.
    got = evaluate([kpi_get("money_staff_hours")], Scope(START, END, (own_site,)))["money_staff_hours"]
    assert got.value == pytest.approx(46 / 60, abs=0.01)
    # Another site keeps the defaults, and a supervisor only reads; bad minutes are refused.
    assert client.post(url, {"m_referral_decline": "-1"}).status_code == 400
    client.force_login(make_user(Role.SUPERVISOR))
    assert client.post(url, {"m_referral_decline": "1"}).status_code == 403
    assert client.get(reverse("kpis:minutes", args=[other_site.code])).status_code == 404
