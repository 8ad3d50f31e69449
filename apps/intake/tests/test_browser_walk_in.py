"""An MA adds a walk-in to today, in a real browser (headless Chromium via Playwright, 1366×768):
home, the intake day, "Add a walk-in", find the patient, choose the time, and the walk-in is on
today's list (a bad time, which the time field itself refuses, is a form error: test_walk_in.py).
Fails on console errors, CSP violations and any 4xx/5xx the user did not cause. Screenshots in
/tmp/shots/patients/ (CLINOPS_SCREENSHOTS overrides)."""

import os

import pytest
from playwright.sync_api import Page, expect

from apps.core.roles import Role
from apps.intake.checklist import checklist_defaults_ensure
from apps.intake.models import Intake
from tests.plugins.browser import csp_violations, sign_in
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.intake import intake_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
SHOTS = os.environ.get("CLINOPS_SCREENSHOTS", "/tmp/shots/patients")  # noqa: S108 - where the brief asks for them


def test_an_ma_adds_a_walk_in_to_today(page: Page, live_server):
    os.makedirs(SHOTS, exist_ok=True)
    checklist_defaults_ensure()  # a transactional test database has lost migration data
    north = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    UserFactory(username="maya", first_name="Maya", role=Role.MEDICAL_ASSISTANT, sites=[north])
    intake_make(north, days=2, patient="walker")  # Walker has a visit booked later in the week
    seen: list[str] = []
    page.on("console", lambda msg: seen.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("response", lambda r: seen.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    violations = csp_violations(page)
    page.set_viewport_size({"width": 1366, "height": 768})

    sign_in(page, live_server.url, "maya")
    expect(page.get_by_role("heading", name="Hello, Maya")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/ma-home.png")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Intake").click()
    page.get_by_role("link", name="Add a walk-in").click()
    expect(page.get_by_role("heading", name="1. Find the patient")).to_be_visible()
    page.get_by_label("Name").fill("Family")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Add a walk-in today").click()
    expect(page.get_by_role("heading", name="Walk-in for")).to_be_visible()
    page.get_by_label("Time today").fill("00:05")
    page.get_by_role("button", name="Add to today").click()
    walk_in = Intake.objects.get(entered_by_hand=True)
    expect(page.get_by_text("Walk-in added to today at North Clinic")).to_be_visible()
    row = page.locator(f"#intake-{walk_in.pk}")
    expect(row).to_contain_text("00:05")
    page.screenshot(path=f"{SHOTS}/intake-day-walk-in.png", full_page=True)
    assert walk_in.visit_date == walk_in.visit_start.astimezone(north.tzinfo).date()
    assert seen == [] and violations == []
