"""A leader in a real browser (headless Chromium): opens the scorecard from the menu, reads a
tile, opens its chart (plotly.js served locally). Screenshots at 1366×768 go to /tmp."""

import os
import tempfile

import pytest
from playwright.sync_api import Page, expect

from apps.core.roles import Role
from tests.plugins.core import PASSWORD, SiteFactory, UserFactory

from .history import END, START, build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
SHOTS = os.environ.get("CLINOPS_SCREENSHOTS", tempfile.gettempdir())


def test_a_leader_reads_the_scorecard_and_opens_a_chart(page: Page, live_server):
    site = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    build(site)
    UserFactory(username="lee", first_name="Lee", last_name="Chen", role=Role.LEADER, sites=[site])
    csp_blocked: list[str] = []  # plotly.js must draw under the strict CSP (no inline script or style)
    page.on("console", lambda msg: csp_blocked.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("lee")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    page.get_by_role("link", name="Scorecard").click()
    page.get_by_label("From", exact=True).fill(START.isoformat())
    page.get_by_label("To", exact=True).fill(END.isoformat())
    page.get_by_role("button", name="Show").click()
    tile = page.locator(".sc-tile", has_text="Time to triage (median)")
    expect(tile).to_contain_text("15 h")
    expect(tile).to_contain_text("improving")
    expect(page.get_by_role("heading", name="Technical")).to_be_visible()
    page.screenshot(path=os.path.join(SHOTS, "kpis-scorecard.png"), full_page=False)
    expect(page.locator(".sc-tile", has_text="Unread results older than 72 h")).to_contain_text("0")
    page.screenshot(path=os.path.join(SHOTS, "kpis-scorecard-full.png"), full_page=True)

    tile.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Time to triage (median)")).to_be_visible()
    chart = page.locator('[data-figure="fig-trend"]')
    expect(chart).to_have_attribute("data-drawn", "true")
    expect(chart.locator("svg.main-svg").first).to_be_visible()
    expect(page.get_by_text("aggregates only")).to_be_visible()
    expect(page.get_by_text("Patient/")).to_have_count(0)
    page.screenshot(path=os.path.join(SHOTS, "kpis-detail.png"), full_page=False)
    assert csp_blocked == []


def test_a_supervisor_sees_the_items_behind_a_number(page: Page, live_server):
    site = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    history = build(site)
    UserFactory(username="sue", first_name="Sue", last_name="Park", role=Role.SUPERVISOR, sites=[site])
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("sue")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.goto(f"{live_server.url}/scorecard/referral_triage_median/?start={START}&end={END}")
    table = page.get_by_role("table")
    expect(table.get_by_role("row")).to_have_count(5)  # the header and a, b, c, e
    expect(table).to_contain_text(history["e"].patient_ref)
    expect(table).to_contain_text("2026-03-15 23:30 EDT")
    page.screenshot(path=os.path.join(SHOTS, "kpis-items.png"), full_page=True)
