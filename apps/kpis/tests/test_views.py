"""The scorecard pages as leaders and supervisors use them: tiles, comparison, a KPI's chart,
the items behind a number (supervisors only, access-logged), CSV, and bad filters."""

import csv
import io

import pytest
from django.urls import reverse

from apps.core.models import AccessLog
from apps.core.roles import Role

from .history import END, START, build

pytestmark = pytest.mark.django_db
PERIOD = {"start": START.isoformat(), "end": END.isoformat()}


@pytest.fixture
def history(own_site):
    return build(own_site)


def signed_in(client, make_user, role):
    user = make_user(role)
    client.force_login(user)
    return user


def test_a_leader_reads_the_scorecard_grouped_with_definitions(client, make_user, history):
    signed_in(client, make_user, Role.LEADER)
    response = client.get(reverse("kpis:scorecard"), PERIOD)
    assert response.status_code == 200
    page = response.content.decode()
    for heading in ("Clinical", "Operational", "Technical", "How each KPI is computed"):
        assert heading in page
    assert "Time to triage (median)" in page and "15 h" in page
    assert "↓ improving" in page  # 20 h in week one, 4 h in week two
    assert "Start: the referral was received" in page


def test_pilot_vs_baseline_side_by_side(client, make_user, history):
    signed_in(client, make_user, Role.LEADER)
    response = client.get(
        reverse("kpis:scorecard"), {**PERIOD, "compare": "period", "base_start": "2026-02-16", "base_end": "2026-03-01"}
    )
    page = response.content.decode()
    assert "Pilot vs baseline" in page and "-9 h" in page
    # Four decisions against one (g's) is no evidence either way: no verdict, the counts shown.
    assert "Pilot better" not in page and "Pilot worse" not in page and "No clear difference" in page
    assert "4 items" in page and "1 item<" in page


def test_bad_filters_are_refused_with_a_clear_message(client, make_user, other_site):
    signed_in(client, make_user, Role.LEADER)
    response = client.get(reverse("kpis:scorecard"), {"start": "2026-03-15", "end": "2026-03-01"})
    assert response.status_code == 400
    assert "The end date is before the start date." in response.content.decode()
    # A site the leader does not belong to is not a choice.
    response = client.get(reverse("kpis:scorecard"), {**PERIOD, "site": other_site.code})
    assert response.status_code == 400
    response = client.get(reverse("kpis:scorecard"), {**PERIOD, "compare": "site"})
    assert "Choose the baseline site." in response.content.decode()


def test_a_leader_sees_the_chart_but_not_the_items(client, make_user, history):
    signed_in(client, make_user, Role.LEADER)
    response = client.get(reverse("kpis:detail", args=["referral_triage_median"]), PERIOD)
    assert response.status_code == 200
    page = response.content.decode()
    assert response.context["figures"]["fig-trend"]["data"][0]["y"] == [20, 4]
    assert 'id="fig-trend"' in page and "plotly/plotly.min.js" in page
    assert "Patient/" not in page and "aggregates only" in page
    assert client.get(reverse("kpis:items_csv", args=["referral_triage_median"]), PERIOD).status_code == 403
    assert not AccessLog.objects.exists()


def test_a_supervisor_drills_down_and_it_is_access_logged(client, make_user, history):
    user = signed_in(client, make_user, Role.SUPERVISOR)
    response = client.get(reverse("kpis:detail", args=["referral_triage_median"]), PERIOD)
    page = response.content.decode()
    for name in ("a", "b", "c", "e"):
        assert history[name].patient_ref in page
    assert history["f"].patient_ref not in page and history["d"].patient_ref not in page
    assert "2026-03-15 23:30 EDT" in page  # e's decision, in the site's time
    logged = set(AccessLog.objects.filter(user=user, action="list").values_list("patient", flat=True))
    assert logged == {history[n].patient_ref for n in "abce"}

    response = client.get(reverse("kpis:items_csv", args=["referral_triage_median"]), PERIOD)
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][-1] == "value (h)"
    assert [float(r[-1]) for r in rows[1:]] == [30, 20, 10, 4]
    assert AccessLog.objects.filter(user=user, action="export").count() == 4


def test_scorecard_csv_has_tile_values_and_weeks(client, make_user, history):
    signed_in(client, make_user, Role.LEADER)
    response = client.get(reverse("kpis:export"), PERIOD)
    rows = {r[1]: r for r in csv.reader(io.StringIO(response.content.decode()))}
    assert rows["Time to triage (median)"][5] == "15.0"
    assert rows["Time to triage (median)"][-2:] == ["20.0", "4.0"]
    response = client.get(reverse("kpis:export"), {"start": "x", "end": "2026-03-01"})
    assert response.status_code == 400


def test_an_unknown_kpi_is_not_found(client, make_user):
    signed_in(client, make_user, Role.LEADER)
    assert client.get(reverse("kpis:detail", args=["no-such-kpi"])).status_code == 404


@pytest.mark.parametrize("name", ["kpis:scorecard", "kpis:export"])
def test_the_scorecard_works_with_debug_on_as_make_run_serves_it(client, make_user, history, settings, name):
    """DEBUG logs every query by %-formatting it: the SQL must hold no bare "%" (it did, a 500)."""
    settings.DEBUG = True
    signed_in(client, make_user, Role.SUPERVISOR)
    assert client.get(reverse(name), PERIOD).status_code == 200
    assert client.get(reverse("kpis:detail", args=["result_unread_over_24h"]), PERIOD).status_code == 200
