"""API keys in a real browser, under the strict CSP: a supervisor signs in with a code, makes a
key (shown once), sees it listed, and revokes it."""

import os

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from apps.core.roles import Role
from tests.plugins.browser import csp_violations
from tests.plugins.core import PASSWORD, SiteFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def shots(tmp_path):
    return os.environ.get("CLINOPS_SCREENSHOTS") or str(tmp_path)


def test_a_supervisor_makes_a_key_after_a_code_and_revokes_it(page: Page, live_server, real_mfa, shots):
    site = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    sue = UserFactory(username="sue", first_name="Sue", role=Role.SUPERVISOR, sites=[site])
    device = TOTPDevice.objects.create(user=sue, name="phone", confirmed=True)
    violations = csp_violations(page)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("sue")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_label("Code").fill(f"{TOTP(device.bin_key).token():06d}")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Hello, Sue")).to_be_visible()

    page.goto(f"{live_server.url}/account/mfa/")
    page.get_by_role("link", name="manage your API keys").click()
    expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible()
    page.get_by_label("What it is for").fill("Queue dashboard")
    page.get_by_role("button", name="Make key").click()
    expect(page.get_by_role("heading", name="Your new key")).to_be_visible()
    key = page.get_by_label("New API key").inner_text().strip()
    assert len(key) >= 40
    expect(page.get_by_role("cell", name="Queue dashboard")).to_be_visible()
    expect(page.get_by_role("cell", name="Active")).to_be_visible()
    page.screenshot(path=f"{shots}/api-key-made.png", full_page=True)

    page.reload()  # shown once: a reload does not show it again, nor make another key
    expect(page.get_by_role("heading", name="Your new key")).to_have_count(0)
    expect(page.get_by_role("cell", name="Queue dashboard")).to_have_count(1)
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("revoked: it no longer works")).to_be_visible()
    expect(page.get_by_role("cell", name="Revoked — make a new key if you still need one")).to_be_visible()
    page.screenshot(path=f"{shots}/api-key-revoked.png", full_page=True)
    assert violations == []
