"""A scheduler's fax, in a real browser (headless Chromium via Playwright, 1366×768): sign in, the
"my work" home, find the patient, the patient page, enter the faxed referral with its PDF, and see
it in the worklist; a wrong file is a form error. Fails on console errors, CSP violations and any
4xx/5xx the user did not cause. Screenshots in /tmp/shots/patients/ (CLINOPS_SCREENSHOTS overrides)."""

import os
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from apps.core.roles import Role
from apps.referrals.models import Referral
from tests.plugins.browser import csp_violations, sign_in
from tests.plugins.core import ServiceLineFactory, SiteFactory, UserFactory
from tests.plugins.referrals import ReferralFactory, patient_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = os.environ.get("CLINOPS_SCREENSHOTS", "/tmp/shots/patients")  # noqa: S108 - where the brief asks for them


def watch(page: Page) -> list[str]:
    """Console errors and failed responses (the test asserts there are none it did not cause)."""
    seen: list[str] = []
    page.on("console", lambda msg: seen.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("response", lambda r: seen.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return seen


def test_a_scheduler_enters_a_faxed_referral_for_a_patient_found_by_search(page: Page, live_server, tmp_path):
    os.makedirs(SHOTS, exist_ok=True)
    north = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    north.service_lines.add(ServiceLineFactory(code="cardiology", name="Cardiology"))
    UserFactory(username="sam", first_name="Sam", last_name="Rivera", role=Role.SCHEDULER, sites=[north])
    patient_make("ana", family="Okafor", given="Ana", birth_date=date(1980, 5, 17), mrn="MRN-778")
    earlier = ReferralFactory(site=north, patient_id="ana", specialty_display="Dermatology")
    problems, violations = watch(page), csp_violations(page)
    page.set_viewport_size({"width": 1366, "height": 768})

    sign_in(page, live_server.url, "sam")
    expect(page.get_by_role("heading", name="Hello, Sam")).to_be_visible()
    expect(page.get_by_role("heading", name="Your queues")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/scheduler-home.png")

    page.get_by_role("link", name="Find a patient").click()
    page.get_by_label("Name").fill("okafor")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="1 patient found")).to_be_visible()
    assert "okafor" not in page.url.lower()  # the query never reaches a URL
    page.screenshot(path=f"{SHOTS}/patient-search.png")
    page.get_by_role("link", name="Open patient").click()
    expect(page.get_by_role("heading", name="Okafor, Ana")).to_be_visible()
    expect(page.get_by_role("link", name=f"Referral {earlier.pk}")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/patient-page.png", full_page=True)

    page.get_by_role("link", name="Enter a referral").click()
    expect(page.get_by_role("heading", name="Referral for Okafor, Ana")).to_be_visible()
    page.get_by_label("Service").select_option(label="Cardiology")
    page.get_by_label("Priority").select_option("urgent")
    page.get_by_label("Arrived by").select_option("fax")
    page.get_by_label("Reason for referral").fill("Palpitations; abnormal ECG at the GP")
    wrong = tmp_path / "scan.png"
    wrong.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    page.get_by_label("Referral letter (PDF)").set_input_files(str(wrong))
    page.get_by_role("button", name="Enter the referral").click()
    expect(page.get_by_role("alert")).to_contain_text("Attach the referral as a PDF file.")
    problems[:] = [p for p in problems if "400" not in p]  # the user's own mistake (response and console)
    page.screenshot(path=f"{SHOTS}/referral-entry-error.png", full_page=True)

    fax = tmp_path / "fax.pdf"
    fax.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    page.get_by_label("Referral letter (PDF)").set_input_files(str(fax))
    page.get_by_role("button", name="Enter the referral").click()
    referral = Referral.objects.exclude(pk=earlier.pk).get()
    expect(page.get_by_text(f"Referral {referral.pk} entered for Cardiology at North Clinic")).to_be_visible()
    expect(page.get_by_role("heading", name="Entered by hand")).to_be_visible()
    expect(page.get_by_role("link", name="Referral letter (PDF")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/referral-entered.png", full_page=True)
    assert referral.entered_by_hand and referral.queue == "triage" and referral.attachments.count() == 1

    page.get_by_role("link", name="Referrals", exact=True).first.click()
    row = page.locator(f"#row-{referral.pk}")
    expect(row).to_contain_text("Okafor, Ana")
    expect(row).to_contain_text("Urgent")
    page.screenshot(path=f"{SHOTS}/worklist-with-fax.png")
    assert problems == [] and violations == []
