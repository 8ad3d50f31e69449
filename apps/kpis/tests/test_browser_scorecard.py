"""A leader in a real browser (headless Chromium, 1366×768): sets their site's own target on the
targets page, sees the tile held to it, compares the pilot with a baseline and a control site
(counts, intervals, "no clear difference"), and reads a percentage's chart on 0–100 %.
Screenshots go to /tmp/shots/scorecard/."""

import os
import tempfile
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from apps.core.roles import Role
from tests.plugins.browser import csp_violations, sign_in
from tests.plugins.core import SiteFactory, UserFactory

from .history import END, START, build
from .test_comparison import triaged

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
SHOTS = os.path.join(tempfile.gettempdir(), "shots", "scorecard")


def shot(page: Page, name: str, *, full: bool = False) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=full)


def test_a_leader_sets_a_target_and_compares_with_a_control_site(page: Page, live_server):
    page.set_viewport_size({"width": 1366, "height": 768})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    blocked = csp_violations(page)
    north = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    south = SiteFactory(code="south", name="South Clinic", timezone="America/New_York")
    build(north)
    for day in (date(2026, 2, 2) + timedelta(days=d) for d in range(0, 10, 2)):
        triaged(north, day, 30, 2)
        triaged(south, day, 30, 2)
    for day in (START + timedelta(days=d) for d in range(0, 10, 2)):
        triaged(south, day, 25, 2)
    UserFactory(username="lee", first_name="Lee", last_name="Chen", role=Role.LEADER, sites=[north, south])
    sign_in(page, live_server.url, "lee")

    page.goto(f"{live_server.url}/scorecard/?start={START}&end={END}&site=north")
    page.get_by_role("link", name="Set North Clinic's targets").click()
    expect(page.get_by_role("heading", name="Targets for North Clinic")).to_be_visible()
    page.get_by_label("Target for Time to triage (median) (h)").fill("12")
    page.get_by_role("button", name="Save targets").click()
    expect(page.get_by_text("Saved: 1 target changed.")).to_be_visible()
    row = page.get_by_role("row", name="Time to triage (median)")
    expect(row).to_contain_text("Lee Chen's target for North Clinic")
    shot(page, "targets")

    page.goto(f"{live_server.url}/scorecard/minutes/north/")
    page.get_by_label("Minutes for Referral: decline").fill("12")
    page.get_by_role("button", name="Save standard minutes").click()
    expect(page.get_by_text("Saved: 1 standard time changed.")).to_be_visible()
    expect(page.get_by_role("row", name="Referral: decline")).to_contain_text("Lee Chen's for North Clinic")
    shot(page, "standard-minutes")

    page.get_by_role("link", name="Back to the scorecard").click()
    page.get_by_label("From", exact=True).fill(START.isoformat())
    page.get_by_label("To", exact=True).fill(END.isoformat())
    page.get_by_role("button", name="Show").click()
    tile = page.locator(".sc-tile", has_text="Time to triage (median)")
    expect(tile).to_contain_text("Target ≤ 12 h · site's own")
    expect(tile).to_contain_text("missed")
    shot(page, "scorecard-own-target")
    page.get_by_role("heading", name="Money and capacity").scroll_into_view_if_needed()
    expect(page.locator(".sc-tile", has_text="Staff hours spent")).to_contain_text(" h")
    shot(page, "money-tiles")

    page.get_by_text("Pilot vs baseline").first.click()
    page.get_by_label("Compare with").select_option("period")
    page.get_by_label("Baseline from").fill("2026-02-02")
    page.get_by_label("Baseline to").fill("2026-02-15")
    page.get_by_label("Control sites (same two periods, no pilot)").select_option("south")
    page.get_by_role("button", name="Compare").click()
    table = page.locator(".sc-comparison table")
    triage = table.get_by_role("row", name="Time to triage (median)")
    expect(triage).to_contain_text("4 items")
    expect(triage).to_contain_text("10 items")
    expect(triage).to_contain_text("95 % interval")
    expect(page.locator(".sc-comparison")).to_contain_text("South Clinic")
    expect(table).to_contain_text("No clear difference")
    shot(page, "comparison")
    page.locator(".sc-comparison").scroll_into_view_if_needed()
    shot(page, "comparison-table")

    page.goto(f"{live_server.url}/scorecard/referral_triaged_within_sla/?start={START}&end={END}&site=north")
    chart = page.locator('[data-figure="fig-distribution"]')
    expect(chart).to_have_attribute("data-drawn", "true")
    expect(chart).to_contain_text("100 %")
    chart.scroll_into_view_if_needed()
    shot(page, "rate-distribution")
    assert blocked == [] and errors == []
