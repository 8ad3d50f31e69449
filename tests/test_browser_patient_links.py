"""On a phone (390×844): a patient follows the link in their reminder email and confirms the
visit; another patient fills the pre-visit form from theirs; the medical assistant then sees the
questionnaire line ticked. Screenshots in /tmp/shots/patient/."""

import os
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import Browser, Page, expect

from apps.core.roles import Role
from apps.intake.models import Intake
from apps.notifications.models import ClinicContact
from apps.notifications.reminders import patient_reminders_plan
from tests.plugins.browser import csp_violations, sign_in
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.intake import intake_make
from tests.plugins.patient_messages import EMAIL, links, reachable

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
SHOTS = Path(os.environ.get("CLINOPS_SHOTS", "/tmp/shots")) / "patient"  # noqa: S108 - the team's screenshot folder
PHONE = {"width": 390, "height": 844}


def _phone(browser: Browser) -> Page:
    page = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    page.set_default_timeout(15_000)
    return page


def _fits_the_phone(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling


def test_a_patient_confirms_and_another_fills_the_form_and_the_ma_sees_it_ticked(
    page: Page, browser: Browser, live_server, settings
):
    SHOTS.mkdir(parents=True, exist_ok=True)
    settings.SMS_BACKEND = "apps.notifications.sms.ConsoleSmsBackend"
    settings.CLINOPS_BASE_URL = live_server.url
    north = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    ClinicContact.objects.create(site=north, name="North Clinic", phone="+1 555 010 0200")
    first, second = intake_make(north, days=2, hour=10), intake_make(north, days=2, hour=11)
    reachable(first, sms=False, given="Amaka")
    reachable(second, sms=False, given="Bola")
    assert patient_reminders_plan() == 2  # one email each (sent after commit)
    first_links, second_links = (links(m.body) for m in mail.outbox)
    assert [m.to for m in mail.outbox] == [[EMAIL], [EMAIL]]

    amaka = _phone(browser)
    violations = csp_violations(amaka)
    amaka.goto(live_server.url + first_links["confirm"])
    expect(amaka.get_by_role("heading", name="Confirm your visit")).to_be_visible()
    expect(amaka.get_by_text("Hello Amaka,")).to_be_visible()
    _fits_the_phone(amaka)
    amaka.screenshot(path=str(SHOTS / "confirm.png"), full_page=True)
    amaka.get_by_role("button", name="Yes, I will come").click()
    expect(amaka.get_by_role("heading", name="Thank you")).to_be_visible()
    expect(amaka.get_by_role("status")).to_have_text("Your visit is confirmed. We look forward to seeing you.")
    amaka.screenshot(path=str(SHOTS / "confirmed.png"), full_page=True)
    assert Intake.objects.get(pk=first.pk).state == "outreach"

    bola = _phone(browser)
    bola.goto(live_server.url + second_links["form"])
    expect(bola.get_by_role("heading", name="Before your visit")).to_be_visible()
    _fits_the_phone(bola)
    bola.screenshot(path=str(SHOTS / "form.png"), full_page=True)
    bola.get_by_role("button", name="Send my answers").click()  # nothing answered yet
    expect(bola.get_by_role("alert")).to_contain_text("Some answers need a look")
    bola.screenshot(path=str(SHOTS / "form-errors.png"), full_page=True)
    bola.get_by_label("What would you like to talk about at your visit?").fill("My knee hurts on the stairs.")
    bola.get_by_role("group", name="Have your medicines changed").get_by_label("No").check()
    bola.get_by_role("group", name="Do you need an interpreter?").get_by_label("No").check()
    bola.get_by_role("button", name="Send my answers").click()
    expect(bola.get_by_role("status")).to_have_text("Your answers were sent to the clinic.")
    bola.screenshot(path=str(SHOTS / "form-sent.png"), full_page=True)

    ma = UserFactory(username="mia", first_name="Mia", last_name="Obi", role=Role.MEDICAL_ASSISTANT, sites=[north])
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, live_server.url, ma.username)
    page.goto(f"{live_server.url}/intake/{second.pk}/")
    line = page.locator("li.is-done", has_text="Questionnaire completed")
    expect(line).to_contain_text("by the patient (pre-visit form online)")
    page.screenshot(path=str(SHOTS / "ma-checklist.png"), full_page=True)
    # The patient page: reminder choices (the MA turns texts off) and the reminders sent.
    from apps.ehr.models import Patient

    record = Patient.objects.get(source_id=second.source_id, fhir_id=second.patient_ref.partition("/")[2])
    page.goto(f"{live_server.url}/patients/{record.pk}/")
    panel = page.get_by_role("region", name="Appointment reminders")
    expect(panel.get_by_role("cell", name="Sent").first).to_be_visible()
    panel.get_by_label("Text message").uncheck()
    panel.get_by_role("button", name="Save reminder choices").click()
    expect(page.get_by_text("Reminder choices saved.")).to_be_visible()
    expect(page.get_by_role("region", name="Appointment reminders").get_by_label("Text message")).not_to_be_checked()
    page.screenshot(path=str(SHOTS / "ma-patient-page.png"), full_page=True)
    assert not violations
