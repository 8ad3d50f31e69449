"""Leaders' own targets per KPI, site and service line: set on a page, audited, with the shipped
defaults as the fallback, and the scorecard says whose target it holds a number to."""

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from apps.core.roles import Role
from apps.kpis.definitions import kpi_get
from apps.kpis.models import KpiTarget
from apps.kpis.scope import Scope
from apps.kpis.selectors import kpi_result_get, scorecard_get
from tests.plugins.core import ServiceLineFactory

from .history import END, START, build

pytestmark = pytest.mark.django_db
PERIOD = {"start": START.isoformat(), "end": END.isoformat()}


def tile(scope, key):
    return next(r for rs in scorecard_get(scope).values() for r in rs if r.kpi.key == key)


def test_a_leader_sets_a_target_and_it_is_audited(client, make_user, own_site):
    leader = make_user(Role.LEADER, first_name="Dana", last_name="Lee")
    client.force_login(leader)
    url = reverse("kpis:targets", args=[own_site.code])
    response = client.post(url, {"t_referral_triage_median": "12"})
    assert response.status_code == 302 and response.url == url  # post-redirect-get
    target = KpiTarget.objects.get(kpi_key="referral_triage_median", site=own_site, service_line=None)
    assert (target.value, target.set_by) == (12, leader)
    entry = LogEntry.objects.get_for_object(target).get()
    assert entry.actor == leader and entry.changes_dict["value"] == [None, 12.0]
    page = client.get(url).content.decode()
    assert "Saved: 1 target changed." in page and "Dana Lee&#x27;s target for Own Clinic" in page


def test_the_scorecard_holds_a_site_to_its_leaders_target(client, make_user, own_site, other_site):
    build(own_site)  # triage median 15 h, shipped target 24 h
    leader = make_user(Role.LEADER, sites=[own_site, other_site], first_name="Dana", last_name="Lee")
    KpiTarget.objects.create(kpi_key="referral_triage_median", site=own_site, value=12, set_by=leader)
    own = tile(Scope(START, END, (own_site,)), "referral_triage_median")
    assert (own.target, own.meets_target) == (12, False)
    assert own.target_whose.startswith("Dana Lee's target for Own Clinic")
    # Another site, and several sites together, fall back to the shipped default.
    assert tile(Scope(START, END, (other_site,)), "referral_triage_median").target == 24
    both = tile(Scope(START, END, (own_site, other_site)), "referral_triage_median")
    assert both.target == 24 and both.meets_target is True and "Shipped default" in both.target_whose
    client.force_login(leader)
    page = client.get(reverse("kpis:scorecard"), {**PERIOD, "site": own_site.code}).content.decode()
    assert "Target ≤ 12 h · site's own" in page
    detail = client.get(reverse("kpis:detail", args=["referral_triage_median"]), {**PERIOD, "site": own_site.code})
    assert "Dana Lee&#x27;s target for Own Clinic" in detail.content.decode()


def test_a_service_line_target_wins_over_the_sites(make_user, own_site):
    cardiology = ServiceLineFactory(code="cardiology", name="Cardiology")
    own_site.service_lines.add(cardiology)
    leader = make_user(Role.LEADER)
    KpiTarget.objects.create(kpi_key="referral_triage_median", site=own_site, value=20, set_by=leader)
    KpiTarget.objects.create(
        kpi_key="referral_triage_median", site=own_site, service_line=cardiology, value=8, set_by=leader
    )
    kpi = kpi_get("referral_triage_median")
    assert kpi_result_get(kpi, Scope(START, END, (own_site,), cardiology.id)).target == 8
    assert kpi_result_get(kpi, Scope(START, END, (own_site,))).target == 20


def test_clearing_a_target_falls_back_to_the_default(client, make_user, own_site):
    leader = make_user(Role.LEADER)
    KpiTarget.objects.create(kpi_key="referral_triage_median", site=own_site, value=12, set_by=leader)
    client.force_login(leader)
    client.post(reverse("kpis:targets", args=[own_site.code]), {"t_referral_triage_median": ""})
    assert not KpiTarget.objects.exists()
    assert kpi_result_get(kpi_get("referral_triage_median"), Scope(START, END, (own_site,))).target == 24


def test_a_bad_target_is_refused_and_supervisors_only_read(client, make_user, own_site):
    client.force_login(make_user(Role.LEADER))
    url = reverse("kpis:targets", args=[own_site.code])
    response = client.post(url, {"t_referral_triaged_within_sla": "140"})
    assert response.status_code == 400 and "less than or equal to 100" in response.content.decode()
    assert client.get(url, {"service_line": "nope"}).status_code == 400
    client.force_login(make_user(Role.SUPERVISOR))
    page = client.get(url).content.decode()
    assert "The site's leaders set them." in page and "Save targets" not in page
    assert client.post(url, {"t_referral_triage_median": "1"}).status_code == 403
    assert not KpiTarget.objects.exists()
