"""The "my work" home in a real browser (headless Chromium via Playwright, 1366×768): a supervisor
sees what was escalated, what they claimed in two workflows and their queues, and one click opens
the most urgent item; a leader lands on the scorecard. Fails on console errors, CSP violations and
4xx/5xx answers. Screenshots in /tmp/shots/patients/ (CLINOPS_SCREENSHOTS overrides)."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.core.roles import Role
from apps.intake.checklist import checklist_defaults_ensure
from tests.plugins.browser import csp_violations, sign_in
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.intake import intake_make
from tests.plugins.referrals import ReferralFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
SHOTS = os.environ.get("CLINOPS_SCREENSHOTS", "/tmp/shots/patients")  # noqa: S108 - where the brief asks for them


def watch(page: Page) -> list[str]:
    seen: list[str] = []
    page.on("console", lambda msg: seen.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("response", lambda r: seen.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return seen


def test_a_supervisor_lands_on_their_work_and_opens_the_most_urgent_item(page: Page, live_server):
    os.makedirs(SHOTS, exist_ok=True)
    checklist_defaults_ensure()
    north = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    south = SiteFactory(code="south", name="South Hospital", timezone="America/Chicago")
    sue = UserFactory(username="sue", first_name="Sue", role=Role.SUPERVISOR, sites=[north, south])
    now = timezone.now()
    escalated = ReferralFactory(site=south, queue="supervisor", escalated_at=now - timedelta(hours=2),
                                due_at=now - timedelta(days=2), warn_at=now - timedelta(days=3),
                                patient__family="Okafor", patient__given="Ada")  # fmt: skip
    ReferralFactory(site=north, assignee=sue, claimed_at=now, priority="urgent", priority_rank=2,
                    patient__family="Rivera", patient__given="Ana")  # fmt: skip
    intake_make(north, days=1, assignee=sue, claimed_at=now)
    ReferralFactory(site=north, due_at=now - timedelta(days=5), warn_at=now - timedelta(days=6))
    problems, violations = watch(page), csp_violations(page)
    page.set_viewport_size({"width": 1366, "height": 768})

    sign_in(page, live_server.url, "sue")
    expect(page.get_by_role("heading", name="Escalated to you")).to_be_visible()
    expect(page.get_by_role("heading", name="Claimed by you")).to_be_visible()
    expect(page.get_by_role("link", name="Referral: Triage").first).to_be_visible()
    expect(page.get_by_role("link", name="Intake", exact=True).last).to_be_visible()
    page.screenshot(path=f"{SHOTS}/supervisor-home.png", full_page=True)
    page.get_by_role("link", name="Open my next item").click()
    expect(page).to_have_url(f"{live_server.url}/referrals/{escalated.pk}/")
    expect(page.get_by_text("Okafor, Ada").first).to_be_visible()
    assert problems == [] and violations == []


def test_a_leader_lands_on_the_scorecard(page: Page, live_server):
    north = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    UserFactory(username="lee", first_name="Lee", role=Role.LEADER, sites=[north])
    problems = watch(page)
    sign_in(page, live_server.url, "lee")
    expect(page).to_have_url(f"{live_server.url}/scorecard/")
    assert problems == []
