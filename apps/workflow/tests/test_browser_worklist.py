"""The one worklist in a real browser (headless Chromium via Playwright), once per workflow: the
worker signs in, opens the worklist from the navigation, filters it, claims a row, opens the
item and comes back to find it theirs; then a supervisor of two sites sees the site column and
whole names. Fails on any console error or CSP violation. Screenshots at 1366×768 in
/tmp/shots/worklist/."""

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from apps.core.roles import Role
from apps.ehr.models import Patient
from tests.plugins.browser import sign_in
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.intake import intake_make
from tests.plugins.referrals import ReferralFactory
from tests.plugins.results import result_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = Path(os.environ.get("CLINOPS_SCREENSHOTS", "/tmp/shots")) / "worklist"  # noqa: S108 (the team's shot folder)
LONG_FAMILY = "Papadopoulou-Vasilakopoulou"


@dataclass(frozen=True)
class Case:
    workflow: str
    nav: str  # the navigation link
    heading: str
    worker: str
    make: Callable[..., Any]  # make(site, family, urgent) → an item whose patient is ``family``
    item_text: str  # what the item page shows


def _referral(site: Any, family: str, urgent: bool) -> Any:
    return ReferralFactory(site=site, patient__family=family, patient__given="Ana",
                           **({"priority": "stat", "priority_rank": 0} if urgent else {}))  # fmt: skip


def _named(item: Any, family: str) -> Any:
    Patient.objects.filter(fhir_id=item.patient_ref.split("/", 1)[1]).update(family=family, given="Ana")
    return item


def _result(site: Any, family: str, urgent: bool) -> Any:
    return _named(result_make(site, state="reviewed", follow_up="notify_only", follow_up_note="Call the patient today",
                              criticality="critical" if urgent else "normal"), family)  # fmt: skip


def _intake(site: Any, family: str, urgent: bool) -> Any:
    return _named(intake_make(site, **({"priority": "stat", "priority_rank": 0} if urgent else {})), family)


CASES = [
    Case("referral", "Referrals", "Referrals", Role.SCHEDULER, _referral, "Chest pain on exertion"),
    Case("result", "Results worklist", "Results", Role.MEDICAL_ASSISTANT, _result, "Call the patient today"),
    Case("intake", "Pre-visit worklist", "Pre-visit worklist", Role.MEDICAL_ASSISTANT, _intake, "Routine appointment"),
]


def _watch(page: Page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"{page.url}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.workflow)
def test_a_worker_filters_claims_opens_an_item_and_comes_back(page: Page, live_server, case: Case):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1366, "height": 768})
    problems = _watch(page)
    north = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    UserFactory(username="worker", first_name="Sam", last_name="Rivera", role=case.worker, sites=[north])
    urgent = case.make(north, "Okafor", True)
    routine = case.make(north, "Lindqvist", False)

    sign_in(page, live_server.url, "worker")
    page.get_by_role("link", name=case.nav, exact=True).click()
    expect(page.get_by_role("heading", name=case.heading, exact=True)).to_be_visible()
    expect(page.locator(f"#row-{routine.pk}")).to_be_visible()
    expect(page.locator("#queue-counts")).to_contain_text("North Clinic")
    page.screenshot(path=str(SHOTS / f"{case.workflow}-1-worklist.png"), full_page=True)

    page.get_by_label("Priority").select_option("stat")  # htmx swaps the results
    expect(page.locator(f"#row-{routine.pk}")).to_have_count(0)
    assert "priority=stat" in page.url
    row = page.locator(f"#row-{urgent.pk}")
    row.get_by_role("button", name="Claim").click()
    expect(row.get_by_role("button", name="Release")).to_be_visible()  # the row swapped in place
    expect(row).to_contain_text("You")
    page.screenshot(path=str(SHOTS / f"{case.workflow}-2-claimed.png"), full_page=True)

    row.get_by_role("link", name="Okafor, Ana").click()
    expect(page.get_by_text(case.item_text).first).to_be_visible()
    page.screenshot(path=str(SHOTS / f"{case.workflow}-3-item.png"), full_page=True)
    page.go_back()
    expect(page.locator(f"#row-{urgent.pk}")).to_contain_text("You")
    expect(page.locator(f"#row-{routine.pk}")).to_have_count(0)  # the filter is still on
    assert problems == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.workflow)
def test_a_supervisor_of_two_sites_sees_the_site_column_and_whole_names(page: Page, live_server, case: Case):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1366, "height": 768})
    problems = _watch(page)
    north = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    south = SiteFactory(code="south", name="Southside Community Health Centre", timezone="America/Chicago")
    UserFactory(username="boss", first_name="Dana", last_name="Boss", role=Role.SUPERVISOR, sites=[north, south])
    there = case.make(south, LONG_FAMILY, False)
    case.make(north, "Okafor", True)

    sign_in(page, live_server.url, "boss")
    page.get_by_role("link", name=case.nav, exact=True).click()
    expect(page.get_by_role("columnheader", name="Site")).to_be_visible()
    cell = page.locator(f"#row-{there.pk} .wl-site-col")
    expect(cell).to_have_text("Southside Community Health Centre")
    name = page.locator(f"#row-{there.pk} .row-link")
    expect(name).to_have_text(f"{LONG_FAMILY}, Ana")
    # Whole: the link is not cut off (its box holds all of its text).
    assert name.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366  # no sideways scrolling
    wrap = page.locator(".table-wrap")
    assert wrap.evaluate("el => el.scrollWidth <= el.clientWidth + 1")  # the whole row, Age and Claim included
    expect(page.locator("#bulk-form")).to_be_visible()
    page.keyboard.press("j")  # the first row
    page.keyboard.press("x")  # selected for a bulk action
    expect(page.locator("#worklist-table tbody tr").first.locator("[data-bulk-id]")).to_be_checked()
    page.screenshot(path=str(SHOTS / f"{case.workflow}-4-supervisor-two-sites.png"), full_page=True)
    assert problems == []
