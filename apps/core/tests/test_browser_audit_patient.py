"""A compliance officer finds a patient's trail by MRN and by name, reads the times in the site's
time zone, and is told plainly when the period is back to front (headless Chromium, 1366x768)."""

import os
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from apps.core.access_log import access_log_record
from apps.core.roles import COMPLIANCE_GROUP, Role, roles_sync
from tests.plugins.browser import csp_violations, sign_in
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.ehr_store import store_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = os.environ.get("CLINOPS_SCREENSHOTS", "/tmp/shots/steward")  # noqa: S108 - test artefacts


def test_a_compliance_officer_finds_a_patient_by_mrn_and_by_name(page: Page, live_server):
    os.makedirs(SHOTS, exist_ok=True)
    violations = csp_violations(page)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    site = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    amy = UserFactory(username="amy", role=Role.SCHEDULER, sites=[site])
    store_make("Patient", "p1", family="Rivera", given="Ana", mrn="00123", birth_date=date(1970, 1, 2), body={})
    store_make("Patient", "p2", family="Okafor", given="Luis", mrn="00456", birth_date=date(1981, 5, 6), body={})
    with time_machine.travel(datetime(2026, 3, 1, 15, 0, tzinfo=UTC), tick=False):
        access_log_record(user=amy, patient="Patient/p1", what="referral:1", site=site)
        access_log_record(user=amy, patient="Patient/p2", what="referral:2", site=site)
    officer = UserFactory(username="olive", first_name="Olive", sites=[site])
    roles_sync()
    officer.groups.add(Group.objects.get(name=COMPLIANCE_GROUP))

    sign_in(page, live_server.url, "olive")
    page.get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", name="Audit report")).to_be_visible()

    # By MRN: only that patient's trail, with the name beside the reference, times in New York.
    page.get_by_label("Patient (MRN, name or reference)").fill("00123")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("Trail of Rivera, Ana · MRN 00123 · born 2 Jan 1970")).to_be_visible()
    amy_rows = page.locator("tbody tr", has_text="amy")
    expect(amy_rows).to_have_count(1)
    expect(amy_rows.first).to_contain_text("1 Mar 2026, 10:00")  # 15:00 UTC is 10:00 in New York
    expect(amy_rows.first).to_contain_text("Rivera, Ana · MRN 00123")
    expect(page.get_by_text("in your site's time zone, America/New York")).to_be_visible()
    expect(page.get_by_role("columnheader", name="When (America/New York)")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/audit-1-by-mrn.png")

    # By name: the same patient.
    page.get_by_label("Patient (MRN, name or reference)").fill("rivera ana")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("Trail of Rivera, Ana")).to_be_visible()
    expect(page.locator("tbody tr", has_text="amy")).to_have_count(1)
    page.screenshot(path=f"{SHOTS}/audit-2-by-name.png")

    # From after To: an error on the To date, the dates kept, no rows.
    page.get_by_label("From").fill("2026-03-05")
    page.get_by_label("To", exact=True).fill("2026-03-01")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("“To” is before “From”: choose a To date on or after the From date.")).to_be_visible()
    expect(page.get_by_label("From")).to_have_value("2026-03-05")
    expect(page.locator("table")).to_have_count(0)
    page.screenshot(path=f"{SHOTS}/audit-3-from-after-to.png")
    assert violations == []
    # The refused period is a 400 (the browser logs it as a failed resource); nothing else failed.
    assert [e for e in errors if "status of 400" not in e] == []
