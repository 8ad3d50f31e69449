"""A supervisor sees the unread count in the header, opens the list and a notification, and the
count goes down; screenshots at 1366×768 in /tmp/shots/notify/."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from apps.core.events import EventKind, StaffEvent, event_emit
from apps.core.roles import Role
from tests.plugins.browser import csp_violations, sign_in
from tests.plugins.core import SiteFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
SHOTS = Path(os.environ.get("CLINOPS_SHOTS", "/tmp/shots")) / "notify"  # noqa: S108 - the team's screenshot folder


def test_the_header_count_and_the_list(page: Page, live_server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1366, "height": 768})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    violations = csp_violations(page)
    north = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    sup = UserFactory(username="sam", first_name="Sam", last_name="Ode", role=Role.SUPERVISOR, sites=[north])
    escalated = "A critical result was escalated to the supervisor queue"
    event_emit(StaffEvent(kind=EventKind.ITEM_ESCALATED, title=escalated, link="/notifications/settings/",
                          user_ids=(sup.pk,), critical=True))  # fmt: skip
    event_emit(StaffEvent(kind=EventKind.SLA_WARNING, title="A referral of yours is near its due time",
                          link="/", user_ids=(sup.pk,)))  # fmt: skip

    sign_in(page, live_server.url, "sam")
    bell = page.get_by_role("link", name="Notifications: 2 unread")
    expect(bell).to_be_visible()
    page.screenshot(path=str(SHOTS / "header.png"))
    bell.click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    expect(page.locator(".notif-list .notif").first).to_contain_text("Unread · Critical")  # critical first
    page.screenshot(path=str(SHOTS / "list.png"), full_page=True)

    page.get_by_role("link", name="A critical result was escalated").click()
    expect(page.get_by_role("heading", name="Notification settings")).to_be_visible()
    expect(page.get_by_role("link", name="Notifications: 1 unread")).to_be_visible()
    page.screenshot(path=str(SHOTS / "settings.png"), full_page=True)

    # A new one arrives while the page is open: the background poll shows it without a reload.
    event_emit(StaffEvent(kind=EventKind.ITEM_ASSIGNED, title="A result was given to you", user_ids=(sup.pk,)))
    expect(page.get_by_role("link", name="Notifications: 2 unread")).to_be_visible(timeout=40_000)
    assert not errors and not violations
