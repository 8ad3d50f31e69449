"""The scorecard's charts read sensibly: percentages on 0–100 %, histograms in round bins (never
5.9998–6.0001 h), and CSV weeks labelled with their dates."""

import csv
import io
from datetime import date

import pytest
from django.urls import reverse

from apps.core.roles import Role
from apps.kpis.charts import distribution_figure, histogram_bins, trend_figure
from apps.kpis.definitions import kpi_get
from apps.kpis.engine import Result
from apps.kpis.scope import Scope
from apps.kpis.views import week_labels

from .history import END, START, build


def test_nearly_equal_review_times_fall_in_round_bins():
    start, end, size = histogram_bins([5.9998, 6.0, 6.0001])
    assert size == 0.5  # a twentieth of 6 h, rounded up to a round width
    assert (start, end) == (5.5, 6.5)  # two half-hour bins either side of 6 h


def test_bins_are_round_and_cover_the_values():
    start, end, size = histogram_bins([0.5, 3.2, 47.9])
    assert size == 2.5 and start == 0 and end == 50


def test_a_percentage_is_shown_on_0_to_100():
    kpi = kpi_get("referral_triaged_within_sla")
    figure = distribution_figure(kpi, [1.0, 1.0, 0.0], weeks=[100.0, 66.67, None])
    assert figure["layout"]["xaxis"]["range"] == [0, 100]
    assert figure["data"][0]["x"] == [99.999, 66.67]  # the weeks (100 % in the last bin), not items' 0/1
    assert figure["data"][0]["xbins"]["size"] == 10
    trend = trend_figure(Result(kpi, 99.0, 3, [99.0, 100.0]), START)
    assert trend["layout"]["yaxis"]["range"] == [0, 100]


def test_a_duration_histogram_has_a_real_bin_width():
    figure = distribution_figure(kpi_get("result_review_critical"), [5.9998, 6.0001])
    trace = figure["data"][0]
    assert trace["xbins"]["size"] >= 0.25 and trace["autobinx"] is False
    low, high = figure["layout"]["xaxis"]["range"]
    assert high - low >= 0.25


def test_week_labels_are_dates():
    scope = Scope(date(2026, 3, 2), date(2026, 3, 18), ())
    assert week_labels(scope) == [
        "week 2 Mar 2026 – 8 Mar 2026",
        "week 9 Mar 2026 – 15 Mar 2026",
        "week 16 Mar 2026 – 18 Mar 2026",
    ]


@pytest.mark.django_db
def test_the_scorecard_csv_heads_weeks_with_their_dates(client, make_user, own_site):
    build(own_site)
    client.force_login(make_user(Role.SUPERVISOR))
    response = client.get(reverse("kpis:export"), {"start": START.isoformat(), "end": END.isoformat()})
    header = next(csv.reader(io.StringIO(response.content.decode())))
    assert header[-2:] == ["week 2 Mar 2026 – 8 Mar 2026", "week 9 Mar 2026 – 15 Mar 2026"]
