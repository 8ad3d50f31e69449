"""A person signs in and finds their way around (headless Chromium via Playwright)."""

import os

import pytest
from playwright.sync_api import Page, expect

from apps.core.roles import Role
from tests.plugins.core import PASSWORD, SiteFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/login/?next=/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")


def test_scheduler_signs_in_and_navigates_by_keyboard(page: Page, live_server, tmp_path):
    site = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    UserFactory(username="sam", first_name="Sam", last_name="Rivera", role=Role.SCHEDULER, sites=[site])
    sign_in(page, live_server.url, "sam")
    expect(page.get_by_role("heading", name="Hello, Sam")).to_be_visible()
    expect(page.get_by_text("Scheduler").first).to_be_visible()
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "home.png"))

    page.get_by_role("link", name="North Clinic").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="North Clinic")).to_be_visible()
    expect(page.get_by_role("cell", name="Sam Rivera")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_integration_admin_sees_the_admin_in_the_navigation(page: Page, live_server):
    site = SiteFactory(code="north", name="North Clinic")
    UserFactory(username="ines", first_name="Ines", role=Role.INTEGRATION_ADMIN, sites=[site])
    sign_in(page, live_server.url, "ines")
    page.get_by_role("link", name="Admin").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


def test_wrong_password_is_explained(page: Page, live_server):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("nobody")
    page.get_by_label("Password").fill("wrong-password-1")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("did not match")
