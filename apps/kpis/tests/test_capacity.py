"""Outreach time per channel (the site's own standard minutes, else the shipped defaults) and
visit slots recovered (earlier slots accepted from the wait list), on small hand-made histories."""

from datetime import timedelta

import pytest
from django.urls import reverse

from apps.core.roles import Role
from apps.kpis.definitions import kpi_get
from apps.kpis.engine import evaluate
from apps.kpis.models import StandardMinutes
from apps.kpis.scope import Scope
from apps.referrals.models import SlotOffer
from apps.workflow.models import Outreach
from tests.plugins.referrals import ReferralFactory

from .history import END, START, utc

pytestmark = pytest.mark.django_db
CHANNELS = ["capacity_outreach_phone", "capacity_outreach_sms", "capacity_outreach_letter"]


def attempt(referral, by, channel, at):
    Outreach.objects.create(
        workflow="referral", item_id=referral.pk, site_id=referral.site_id, by=by, channel=channel,
        outcome="no_answer", at=at,
    )  # fmt: skip


def test_outreach_time_per_channel_uses_the_sites_own_minutes(own_site, other_site, make_user):
    leader = make_user(Role.LEADER, sites=[own_site, other_site])
    here, there = ReferralFactory(site=own_site), ReferralFactory(site=other_site)
    for day in (3, 4, 5):
        attempt(here, leader, "phone", utc(2026, 3, day, 15))  # 3 × 6 min shipped
    attempt(here, leader, "sms", utc(2026, 3, 6, 15))
    attempt(here, leader, "sms", utc(2026, 3, 20, 15))  # after the period: not counted
    attempt(there, leader, "phone", utc(2026, 3, 6, 15))  # another site
    scope = Scope(START, END, (own_site,))
    got = evaluate([kpi_get(k) for k in CHANNELS], scope)
    assert [(got[k].value, got[k].n) for k in CHANNELS] == [(0.3, 3), (0.03, 1), (0, 0)]
    # The site's leaders say a text takes 6 minutes here: 0.1 h.
    StandardMinutes.objects.create(site=own_site, workflow="outreach", action="sms", minutes=6, set_by=leader)
    assert evaluate([kpi_get("capacity_outreach_sms")], scope)["capacity_outreach_sms"].value == 0.1
    both = evaluate([kpi_get("capacity_outreach_phone")], Scope(START, END, (own_site, other_site)))
    assert both["capacity_outreach_phone"].n == 4


def test_channel_minutes_are_set_on_the_standard_minutes_page(own_site, make_user, client):
    client.force_login(make_user(Role.LEADER))
    url = reverse("kpis:minutes", args=[own_site.code])
    page = client.get(url)
    assert "Outreach: text message" in page.text
    response = client.post(url, {"m_outreach_sms": "4.5"})
    assert response.status_code == 302
    assert StandardMinutes.objects.get(site=own_site, workflow="outreach", action="sms").minutes == 4.5
    assert "Outreach time: text message" in client.get(reverse("kpis:scorecard") + f"?site={own_site.code}").text


def test_visit_slots_recovered_count_accepted_earlier_slots(own_site):
    def offer(status, decided):
        referral = ReferralFactory(site=own_site)
        start = utc(2026, 3, 20, 14)
        SlotOffer.objects.create(
            referral=referral, site=own_site, slot_ref=f"Slot/{referral.pk}", slot_start=start,
            current_start=start + timedelta(days=9), offered_at=decided - timedelta(hours=1),
            expires_at=decided + timedelta(hours=3), status=status, decided_at=decided,
        )  # fmt: skip

    offer("accepted", utc(2026, 3, 4, 15))
    offer("accepted", utc(2026, 3, 12, 15))
    offer("declined", utc(2026, 3, 5, 15))  # not refilled
    offer("expired", utc(2026, 3, 6, 15))
    offer("accepted", utc(2026, 3, 17, 15))  # after the period
    got = evaluate([kpi_get("capacity_slots_recovered")], Scope(START, END, (own_site,)))["capacity_slots_recovered"]
    assert (got.value, got.n, got.weeks) == (2, 2, [1, 1])
    assert "no-shows are not counted" in got.kpi.definition
