"""MFA enrolment and the security pages in a real browser, under the strict CSP."""

import os
from base64 import b32decode

import pytest
from django.contrib.auth.models import Group
from django_otp.oath import TOTP
from playwright.sync_api import Page, expect

from apps.core.access_log import access_log_record
from apps.core.roles import COMPLIANCE_GROUP, Role, roles_sync
from tests.plugins.browser import csp_violations
from tests.plugins.core import PASSWORD, SiteFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def shots(tmp_path):
    """Where screenshots go: CLINOPS_SCREENSHOTS to keep them, else the test's temporary folder."""
    return os.environ.get("CLINOPS_SCREENSHOTS") or str(tmp_path)


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")


def test_a_supervisor_enrols_in_mfa_then_signs_in_with_a_code(page: Page, live_server, real_mfa, shots):
    site = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    UserFactory(username="sue", first_name="Sue", role=Role.SUPERVISOR, sites=[site])
    violations = csp_violations(page)
    sign_in(page, live_server.url, "sue")
    expect(page.get_by_role("heading", name="Set up two-step sign-in")).to_be_visible()
    page.screenshot(path=f"{shots}/mfa-setup.png")
    secret = page.locator(".mfa-secret").inner_text().replace(" ", "")
    totp = TOTP(b32decode(secret))
    page.get_by_label("6-digit code").fill(f"{totp.token():06d}")
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.locator(".recovery-codes li")).to_have_count(10)
    page.screenshot(path=f"{shots}/mfa-recovery-codes.png")
    page.get_by_role("link", name="I have saved them").click()
    expect(page.get_by_role("heading", name="Hello, Sue")).to_be_visible()
    page.get_by_role("link", name="Two-step sign-in").click()
    page.screenshot(path=f"{shots}/mfa-settings.png")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server.url, "sue")
    expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    page.screenshot(path=f"{shots}/mfa-verify.png")
    totp.time += 30  # the next code: the one used at setup cannot be replayed
    page.get_by_label("Code").fill(f"{totp.token():06d}")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Hello, Sue")).to_be_visible()
    page.get_by_role("link", name="Break-glass review").click()
    expect(page.get_by_role("heading", name="Break-glass review")).to_be_visible()
    page.screenshot(path=f"{shots}/emergency-review.png")
    assert violations == []


def test_a_compliance_officer_reads_the_audit_report(page: Page, live_server, shots):
    site = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    amy = UserFactory(username="amy", role=Role.SCHEDULER, sites=[site])
    for n in range(12):
        access_log_record(user=amy, patient=f"Patient/p{n}", what=f"referral:{n}", site=site)
    officer = UserFactory(username="olive", first_name="Olive", sites=[site])
    roles_sync()
    officer.groups.add(Group.objects.get(name=COMPLIANCE_GROUP))
    violations = csp_violations(page)
    sign_in(page, live_server.url, "olive")
    page.get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", name="Audit report")).to_be_visible()
    page.get_by_label("User (username)").fill("amy")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("cell", name="Patient/p11")).to_be_visible()
    page.screenshot(path=f"{shots}/audit-report.png")
    assert violations == []


def test_the_worklist_runs_under_the_csp(page: Page, live_server):
    site = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    UserFactory(username="sam", role=Role.SCHEDULER, sites=[site])
    violations = csp_violations(page)
    sign_in(page, live_server.url, "sam")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.goto(f"{live_server.url}/referrals/")
    expect(page.locator("h1")).to_contain_text("Referrals")
    assert page.evaluate("typeof window.htmx") == "object"
    assert violations == []
