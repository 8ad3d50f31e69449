"""After the idle sign-out, signing in again returns to the page the user was on (headless Chromium)."""

import os
import re

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from playwright.sync_api import Page, expect

from apps.core.roles import Role
from tests.plugins.browser import csp_violations
from tests.plugins.core import PASSWORD, SiteFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = os.environ.get("CLINOPS_SCREENSHOTS", "/tmp/shots/steward")  # noqa: S108 - test artefacts


def _sessions_idle_for(minutes: int) -> None:
    """Every session's last activity ``minutes`` ago (as if the user walked away)."""
    for row in Session.objects.all():
        store = SessionStore(session_key=row.session_key)
        if "clinops_last_activity" in store:
            store["clinops_last_activity"] -= minutes * 60
            store.save()


def test_signing_in_again_after_the_idle_sign_out_returns_to_the_page(page: Page, live_server):
    os.makedirs(SHOTS, exist_ok=True)
    base = live_server.url
    violations = csp_violations(page)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    site = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    UserFactory(username="sam", first_name="Sam", last_name="Rivera", role=Role.SCHEDULER, sites=[site])

    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.goto(f"{base}/sites/north/")
    expect(page.get_by_role("heading", name="North Clinic")).to_be_visible()

    _sessions_idle_for(20)
    page.reload()
    expect(page).to_have_url(re.compile(r"/login/\?reason=idle&next=%2Fsites%2Fnorth%2F$"))
    expect(page.get_by_role("status")).to_contain_text("without activity")
    page.screenshot(path=f"{SHOTS}/idle-sign-in-again.png")

    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/sites/north/")
    expect(page.get_by_role("heading", name="North Clinic")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/idle-back-on-the-page.png")
    assert violations == [] and errors == []
