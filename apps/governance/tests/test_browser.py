"""The governance loop in a real browser (headless Chromium, 1366×768): a supervisor names the
owners, a scheduler reports friction from a referral's page, the owner is told, acknowledges and
replies, the scheduler reads the reply, and a leader who tries to switch a site live with a red
readiness item is refused and sees the link that fixes it. Screenshots go to /tmp."""

import os
import tempfile

import pytest
from playwright.sync_api import Page, expect

from apps.core.roles import Role
from apps.governance.models import FrictionReport, RolloutSwitch
from tests.plugins.browser import csp_violations, sign_in
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.referrals import ReferralFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
SHOTS = os.environ.get("CLINOPS_SCREENSHOTS", tempfile.gettempdir())


def shot(page: Page, name: str) -> None:
    page.screenshot(path=os.path.join(SHOTS, f"governance-{name}.png"), full_page=False)


def test_owners_friction_and_a_refused_go_live(page: Page, live_server):
    page.set_viewport_size({"width": 1366, "height": 768})
    base = live_server.url
    north = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    UserFactory(username="sue", first_name="Sue", last_name="Park", role=Role.SUPERVISOR, sites=[north])
    UserFactory(username="sam", first_name="Sam", last_name="Reyes", role=Role.SCHEDULER, sites=[north])
    UserFactory(username="olive", first_name="Olive", last_name="Grant", role=Role.SCHEDULER, sites=[north])
    UserFactory(username="lee", first_name="Lee", last_name="Chen", role=Role.LEADER, sites=[north])
    referral = ReferralFactory(site=north, patient__family="Rivera")
    blocked = csp_violations(page)

    # A supervisor names the owners of referrals at North Clinic.
    sign_in(page, base, "sue")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Scorecard").click()
    page.get_by_label("Site", exact=True).select_option(label="North Clinic")
    page.get_by_role("button", name="Show").click()
    panel = page.locator(".sc-owners")
    expect(panel).to_contain_text("Owners at North Clinic")
    panel.scroll_into_view_if_needed()
    shot(page, "scorecard-owners-before")
    page.get_by_role("link", name="Name the owners").click()
    page.get_by_label("System behaviour").select_option(label="Olive Grant")
    page.get_by_label("Support escalation").select_option(label="Olive Grant")
    page.get_by_role("button", name="Save owners").click()
    expect(page.get_by_text("Saved: 2 owners changed.")).to_be_visible()
    expect(page.locator("table").first).to_contain_text("Olive Grant")
    shot(page, "owners")
    page.get_by_role("button", name="Sign out").click()

    # A scheduler reports friction from the referral's page.
    sign_in(page, base, "sam")
    page.goto(f"{base}/referrals/{referral.pk}/")
    page.get_by_text("Report friction").click()
    page.get_by_label("What got in your way?").fill("The slot list never shows Fridays, so I book them in the EHR.")
    page.get_by_label("How much (optional)").select_option("high")
    shot(page, "friction-form")
    page.get_by_role("button", name="Send to the owners").click()
    expect(page.get_by_text("Thank you: your report went to its owners.")).to_be_visible()
    expect(page).to_have_url(f"{base}/referrals/{referral.pk}/")
    report = FrictionReport.objects.get()
    assert (report.item_id, report.page) == (referral.pk, f"/referrals/{referral.pk}/")
    page.get_by_role("button", name="Sign out").click()

    # The owner is told, acknowledges and replies.
    sign_in(page, base, "olive")
    page.get_by_role("link", name="Notifications: 1 unread").click()
    page.get_by_text("Friction reported in referrals").click()
    expect(page.get_by_role("heading", name="Friction report New")).to_be_visible()
    expect(page.get_by_text("The slot list never shows Fridays")).to_be_visible()
    page.get_by_label("Status").select_option(label="Acknowledged")
    page.get_by_label("Reply to the reporter").fill("Thanks: Friday clinics are missing from the schedule feed.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved. The reporter sees the status")).to_be_visible()
    shot(page, "friction-answered")
    page.get_by_role("button", name="Sign out").click()

    # The scheduler reads the reply.
    sign_in(page, base, "sam")
    page.get_by_text("Report friction").click()
    page.get_by_role("link", name="My friction reports").click()
    row = page.locator("tbody tr").first
    expect(row).to_contain_text("Acknowledged")
    expect(row).to_contain_text("Friday clinics are missing")
    shot(page, "friction-mine")
    page.get_by_role("button", name="Sign out").click()

    # A leader tries to switch referrals live at North Clinic while items are red.
    sign_in(page, base, "lee")
    page.get_by_role("link", name="Governance").click()
    page.get_by_role("link", name="Referrals").first.click()
    page.get_by_role("button", name="Go live").click()
    expect(page.get_by_text("It cannot go live yet")).to_be_visible()
    hours = page.locator('tr[data-check="calendar"]')
    expect(hours).to_contain_text("Red")
    expect(hours.get_by_role("link", name="Set the site's opening hours")).to_have_attribute(
        "href", "/admin/workflow/sitecalendar/add/"
    )
    owners = page.locator('tr[data-check="owners"]')
    expect(owners).to_contain_text("No owner named for: Clinical policy, KPI review.")
    shot(page, "rollout-refused")
    assert not RolloutSwitch.objects.filter(phase="live").exists()
    assert blocked == []
