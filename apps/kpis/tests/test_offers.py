"""Earlier-slot offer KPIs on a small hand-made set of offers with known answers (New York site,
2–15 March 2026, as in ``history``): offers made, accepted, and days sooner per accepted offer."""

from datetime import timedelta

import pytest
from django.urls import reverse

from apps.core.roles import Role
from apps.kpis.definitions import kpi_all
from apps.kpis.engine import evaluate
from apps.kpis.scope import Scope
from apps.referrals.models import SlotOffer
from tests.plugins.referrals import ReferralFactory

from .history import END, START, utc

pytestmark = pytest.mark.django_db
OFFER_KPIS = ("referral_offers_made", "referral_offers_accepted", "referral_offer_days_sooner")


def offer(site, offered, *, status="open", decided=None, sooner_days=0, by_hand=False):
    referral = ReferralFactory(site=site, entered_by_hand=by_hand)
    slot_start = offered + timedelta(days=2)
    return SlotOffer.objects.create(
        referral=referral, site=site, slot_ref=f"Slot/s{referral.pk}", slot_start=slot_start,
        current_start=slot_start + timedelta(days=sooner_days), status=status, offered_at=offered,
        expires_at=offered + timedelta(hours=4), decided_at=decided,
    )  # fmt: skip


@pytest.fixture
def offers(own_site):
    """Made in the period: a, b, c, e, f (f accepted after the period ends); d was made in February
    and accepted in March. Accepted in the period: a (7 days sooner), b (3), d (2)."""
    offer(own_site, utc(2026, 3, 4, 9), status="accepted", decided=utc(2026, 3, 4, 10), sooner_days=7)
    offer(own_site, utc(2026, 3, 9, 9), status="accepted", decided=utc(2026, 3, 9, 12), sooner_days=3, by_hand=True)
    offer(own_site, utc(2026, 3, 10, 9), status="declined", decided=utc(2026, 3, 10, 10), sooner_days=9)
    offer(own_site, utc(2026, 2, 27, 9), status="accepted", decided=utc(2026, 3, 3, 9), sooner_days=2)
    offer(own_site, utc(2026, 3, 14, 9), status="withdrawn", decided=utc(2026, 3, 14, 11), sooner_days=5)
    offer(own_site, utc(2026, 3, 15, 20), status="accepted", decided=utc(2026, 3, 16, 12), sooner_days=30)


def test_offers_made_accepted_and_days_sooner(offers, own_site, other_site):
    got = {k: r.value for k, r in evaluate([k for k in kpi_all() if k.key in OFFER_KPIS],
                                           Scope(START, END, (own_site,))).items()}  # fmt: skip
    assert got == {"referral_offers_made": 5, "referral_offers_accepted": 3, "referral_offer_days_sooner": 4}
    # Offers entered by hand are kept apart like every other referral KPI.
    ehr_only = evaluate([k for k in kpi_all() if k.key in OFFER_KPIS], Scope(START, END, (own_site,), by_hand=False))
    assert ehr_only["referral_offers_accepted"].value == 2
    assert ehr_only["referral_offer_days_sooner"].value == 4.5
    # Another site's scorecard sees none of them.
    elsewhere = evaluate([k for k in kpi_all() if k.key in OFFER_KPIS], Scope(START, END, (other_site,)))
    assert elsewhere["referral_offers_made"].value == 0


def test_the_leaders_scorecard_shows_the_offer_tiles(client, make_user, offers):
    client.force_login(make_user(Role.LEADER))
    page = client.get(reverse("kpis:scorecard"), {"start": START.isoformat(), "end": END.isoformat()})
    text = page.content.decode()
    assert page.status_code == 200
    assert "Earlier-slot offers made" in text and "Days sooner per accepted offer (mean)" in text
    assert "4 d" in text
