"""Break-glass in a real browser, under the strict CSP: a scheduler opens a referral at another
site after giving a reason (moved from core's browser tests: it needs a referral)."""

import os

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from apps.core.roles import EMERGENCY_GROUP, Role, roles_sync
from tests.plugins.browser import csp_violations, sign_in
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.referrals import ReferralFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def shots(tmp_path):
    """Where screenshots go: CLINOPS_SCREENSHOTS to keep them, else the test's temporary folder."""
    return os.environ.get("CLINOPS_SCREENSHOTS") or str(tmp_path)


def test_a_scheduler_breaks_the_glass_with_a_reason(page: Page, live_server, shots):
    north = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    south = SiteFactory(code="south", name="South Hospital", timezone="America/Chicago")
    referral = ReferralFactory(site=south)
    sam = UserFactory(username="sam", role=Role.SCHEDULER, sites=[north])
    roles_sync()
    sam.groups.add(Group.objects.get(name=EMERGENCY_GROUP))
    violations = csp_violations(page)
    sign_in(page, live_server.url, "sam")
    page.get_by_role("link", name="Emergency access").click()
    page.get_by_label("Patient (MRN or reference)").fill(referral.patient_ref)
    page.get_by_role("button", name="Break the glass").click()
    expect(page.get_by_role("alert")).to_contain_text("at least 15 characters")
    page.get_by_label("Reason").fill("Patient arrived unconscious in our ED; need referral history")
    page.get_by_role("button", name="Break the glass").click()
    expect(page.get_by_text("Emergency access open until")).to_be_visible()
    page.screenshot(path=f"{shots}/emergency-request.png")
    page.goto(f"{live_server.url}/referrals/{referral.pk}/")
    expect(page.locator("h1")).to_be_visible()
    assert "South" in page.content()
    assert violations == []
