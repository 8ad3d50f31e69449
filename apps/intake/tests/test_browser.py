"""A medical assistant in a real browser (headless Chromium via Playwright) gets tomorrow's
visit ready with one click per checklist item, records outreach, and checks today's patient in;
screenshots of the day view, the item page and the checklist page at 1366×768 in /tmp."""

import os
import re
import tempfile

import pytest
from playwright.sync_api import Page, expect

from apps.core.roles import Role
from apps.intake.checklist import checklist_defaults_ensure
from apps.intake.models import Intake
from apps.intake.workflow import State
from tests.plugins.browser import sign_in
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.intake import intake_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
SHOTS = os.environ.get("CLINOPS_SCREENSHOTS", tempfile.gettempdir())


@pytest.fixture
def north(transactional_db):
    checklist_defaults_ensure()  # a transactional test database has lost migration data
    return SiteFactory(code="north", name="North Clinic", timezone="America/New_York")


def test_an_ma_completes_an_intake_and_checks_a_patient_in(page: Page, live_server, north):
    UserFactory(username="maya", first_name="Maya", last_name="Lopez", role=Role.MEDICAL_ASSISTANT, sites=[north])
    tomorrow = intake_make(north, days=1, hour=9)
    intake_make(north, days=1, hour=11)
    intake_make(north, days=1, hour=14).checks.exclude(key="questionnaire").update(done_at=tomorrow.opened_at)
    today = intake_make(north, days=0, hour=23)
    sign_in(page, live_server.url, "maya")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Intake").click()
    expect(page.get_by_role("heading", name=re.compile("North Clinic — today"))).to_be_visible()
    page.get_by_role("link", name="Next day ›").click()
    expect(page.get_by_role("heading", name=re.compile("North Clinic — tomorrow"))).to_be_visible()
    row = page.locator(f"#intake-{tomorrow.pk}")
    expect(row).to_contain_text("09:00")
    expect(row).to_contain_text("0 of 5 done")
    page.screenshot(path=f"{SHOTS}/intake-day.png")

    for label in ("Demographics verified", "Insurance eligibility checked", "Consents signed",
                  "Questionnaire completed", "Medication list reviewed"):  # fmt: skip
        row.get_by_role("button", name=label).click()
        expect(row.get_by_role("button", name=label)).to_have_count(0)  # swapped in place
    expect(row).to_contain_text("All done")
    expect(row).to_contain_text("Ready")
    assert Intake.objects.get(pk=tomorrow.pk).state == State.READY
    page.screenshot(path=f"{SHOTS}/intake-day-ready.png")

    row.get_by_role("link", name="Open").click()
    expect(page.locator(".intake-badge")).to_have_text("Ready")
    page.get_by_label("Channel").select_option("sms")
    page.get_by_label("Outcome").select_option("reached")
    page.get_by_role("button", name="Record attempt").click()
    expect(page.locator("#intake-item")).to_contain_text("Text message: Reached the patient")
    page.screenshot(path=f"{SHOTS}/intake-item.png", full_page=True)

    page.goto(f"{live_server.url}/intake/?site=north&day=today")
    today_row = page.locator(f"#intake-{today.pk}")
    today_row.get_by_role("button", name="Check in").click()
    expect(today_row).to_contain_text("Checked in")
    checked = Intake.objects.get(pk=today.pk)
    assert checked.state == State.CHECKED_IN and checked.complete_before_visit is False and checked.arrived_at


def test_a_supervisor_sees_the_checklist_page(page: Page, live_server, north):
    UserFactory(username="sue", role=Role.SUPERVISOR, sites=[north])
    sign_in(page, live_server.url, "sue")
    page.goto(f"{live_server.url}/intake/checklists/")
    expect(page.get_by_role("cell", name="Demographics verified")).to_be_visible()
    page.get_by_label("Key").fill("photo-id")
    page.get_by_label("What staff do").fill("Photo ID on file")
    page.get_by_role("button", name="Save line").click()
    expect(page.get_by_role("cell", name="Photo ID on file")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/intake-checklists.png", full_page=True)
