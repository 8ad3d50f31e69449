"""A scheduler books a referral from the worklist in a real browser (headless Chromium), against
a real FHIR server process (sekmet): find a slot, book it, the EHR's Appointment schedules the
referral, the patient confirms; a second patient waits for an earlier slot, the first
appointment is cancelled from clinops, the EHR's cancellation frees the slot, and the waiting
patient, told by a notification, accepts the offer. Screenshots at 1366×768 in /tmp/shots/booking/."""

import json
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.core.roles import Role
from apps.ehr.client import FhirClient
from apps.ehr.models import OutboxMessage
from apps.ehr.services.sources import source_upsert
from apps.ehr.tests.fhir_server import fhir_server  # noqa: F401 - the fixture: a real FHIR server
from apps.referrals.models import Referral, ReferralRoute
from apps.referrals.workflow import State
from tests.plugins.browser import csp_violations, sign_in
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.ehr_store import store_make
from tests.plugins.referral_feed import CARDIOLOGY
from tests.plugins.referrals import ReferralFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = Path(os.environ.get("CLINOPS_SCREENSHOTS", "/tmp/shots")) / "booking"  # noqa: S108


def _at(days: int, hour: int) -> str:
    moment = (timezone.now() + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_scheduler_books_from_the_worklist_the_ehr_confirms_and_the_patient_confirms(
    page: Page,
    live_server,
    fhir_server,  # noqa: F811
):
    SHOTS.mkdir(parents=True, exist_ok=True)
    north = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    UserFactory(username="sam", first_name="Sam", last_name="Rivera", role=Role.SCHEDULER, sites=[north])
    source, token = source_upsert(name="ehr-north", base_url=fhir_server)
    ReferralRoute.objects.create(source=source, site=north)
    with FhirClient(base_url=fhir_server) as fhir:
        doctor = fhir.create({"resourceType": "Practitioner", "name": [{"family": "Adeyemi", "given": ["Ngozi"]}]})
        room = fhir.create({"resourceType": "Location", "name": "North Clinic, room 4"})
        schedule = fhir.create({
            "resourceType": "Schedule", "active": True, "specialty": [CARDIOLOGY],
            "actor": [{"reference": f"Practitioner/{doctor.body['id']}"},
                      {"reference": f"Location/{room.body['id']}"}],
        }).body  # fmt: skip
        for days, hour in ((2, 14), (2, 15), (3, 13)):
            fhir.create({
                "resourceType": "Slot", "schedule": {"reference": f"Schedule/{schedule['id']}"}, "status": "free",
                "start": _at(days, hour), "end": _at(days, hour).replace(":00:00Z", ":30:00Z"),
            })  # fmt: skip
    # The names clinops shows come from its store (the EHR sent them earlier).
    store_make("Practitioner", doctor.body["id"], source=source, family="Adeyemi", given="Ngozi")
    store_make("Location", room.body["id"], source=source, name="North Clinic, room 4")
    referral = ReferralFactory(
        site=north, source=source, state=State.SCHEDULING, priority="urgent", patient__family="Okafor",
        patient__given="Ada",
    )  # fmt: skip
    violations = csp_violations(page)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    sign_in(page, live_server.url, "sam")
    page.get_by_role("link", name="Referrals").click()
    row = page.locator(f"#row-{referral.pk}")
    expect(row).to_contain_text("Okafor, Ada")
    row.get_by_role("link").first.click()
    expect(page.locator(".ref-state")).to_have_text("Scheduling")
    expect(page.locator("[data-next-step]")).to_contain_text("Find a free slot and book it here")
    page.get_by_role("link", name="Find a slot and book").click()

    expect(page.get_by_role("heading", name=re.compile("^Book"))).to_be_visible()
    days = page.locator("section.panel h2")
    expect(days).to_have_count(2)  # two days, slots by day
    expect(page.locator("tr[data-slot]")).to_have_count(3)
    expect(page.locator("tr[data-slot]").first).to_contain_text("Ngozi Adeyemi")
    expect(page.locator("tr[data-slot]").first).to_contain_text("North Clinic, room 4")
    page.screenshot(path=str(SHOTS / "slots.png"))

    first = page.locator("tr[data-slot]").first
    first.get_by_label("The patient agreed by").select_option("phone")
    first.get_by_role("button", name="Book").click()
    # The outbox sent the Appointment on commit; the EHR's answer went through ingestion.
    expect(page.get_by_role("status").or_(page.locator(".flash, .messages")).first).to_contain_text(
        "Booking sent to the EHR: the referral is scheduled when the EHR confirms it."
    )
    page.reload()
    expect(page.locator(".ref-state")).to_have_text("Scheduled")
    expect(page.locator(".timeline")).to_contain_text("Booking sent to the EHR")
    expect(page.locator(".timeline")).to_contain_text("Booking → Scheduled")
    expect(page.locator(".outreach-table")).to_contain_text("Reached the patient")
    page.screenshot(path=str(SHOTS / "scheduled.png"), full_page=True)
    assert OutboxMessage.objects.get(resource_type="Appointment").status == OutboxMessage.Status.SENT

    page.get_by_role("button", name="Patient confirmed").click()
    expect(page.locator(".ref-state")).to_have_text("Patient confirmed")
    expect(page.locator("[data-next-step]")).to_contain_text("the patient said they will come")
    page.screenshot(path=str(SHOTS / "confirmed.png"))
    confirmed = Referral.objects.get(pk=referral.pk)
    assert confirmed.state == State.CONFIRMED and confirmed.confirmed_at

    # Back (to the booking form) and book again: nothing is booked twice.
    page.goto(f"{live_server.url}/referrals/{referral.pk}/slots/")
    expect(page.get_by_role("heading", name=re.compile("^Rebook"))).to_be_visible()
    assert OutboxMessage.objects.filter(resource_type="Appointment", operation="create").count() == 1

    # A second patient takes the last slot and waits for an earlier one.
    ben = ReferralFactory(site=north, source=source, state=State.SCHEDULING, patient__family="Bello",
                          patient__given="Ben")  # fmt: skip
    page.goto(f"{live_server.url}/referrals/{ben.pk}/slots/")
    page.locator("tr[data-slot]").last.get_by_role("button", name="Book").click()
    # The booking's own page first (post, then redirect): a reload before it lands has no page to reload.
    expect(page.get_by_role("status").or_(page.locator(".flash, .messages")).first).to_contain_text(
        "Booking sent to the EHR"
    )
    page.reload()
    expect(page.locator(".ref-state")).to_have_text("Scheduled")
    page.get_by_role("button", name="Wait for an earlier slot").click()
    expect(page.get_by_text("On the wait list for an earlier slot.")).to_be_visible()

    # Ada cannot come after all: the scheduler cancels her appointment from clinops.
    page.goto(f"{live_server.url}/referrals/{referral.pk}/")
    page.locator("summary", has_text="Cancel the appointment").click()
    page.get_by_label("Reason").last.fill("Patient in hospital elsewhere")
    page.get_by_role("button", name="Cancel the appointment").click()
    expect(page.locator(".ref-state")).to_have_text("Scheduling")
    ada = Referral.objects.get(pk=referral.pk)
    cancelled = OutboxMessage.objects.get(resource_type="Appointment", operation="update")
    assert cancelled.status == OutboxMessage.Status.SENT
    # The EHR frees the slot and tells clinops (its webhook): the cancelled Appointment and the Slot.
    with FhirClient(base_url=fhir_server) as fhir:
        appointment = fhir.read("Appointment", cancelled.resource_id)
        assert appointment["status"] == "cancelled"
        freed_id = appointment["slot"][0]["reference"].split("/")[1]
        freed = fhir.update({**fhir.read("Slot", freed_id), "status": "free"}).body
    for resource in (appointment, freed):
        answer = page.request.post(
            f"{live_server.url}/integrations/{source.name}/fhir", data=json.dumps(resource),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
        )  # fmt: skip
        assert answer.status == 202, answer.text()
    assert ada.state == State.SCHEDULING

    # The site's schedulers hear that an offer waits (the bell); the notification opens the offers.
    page.goto(f"{live_server.url}/referrals/")
    page.get_by_role("link", name=re.compile(r"^Notifications: \d+ unread")).click()
    page.screenshot(path=str(SHOTS / "notified.png"))
    page.get_by_role("link", name="An earlier slot is offered to a waiting patient: call them").click()
    offer = page.locator("tr[data-offer]")
    expect(offer).to_have_count(1)
    expect(offer).to_contain_text("Bello, Ben")
    expect(offer).to_contain_text("1 day sooner")  # 9 Dec instead of 10 Dec
    page.screenshot(path=str(SHOTS / "offers.png"))
    offer.get_by_role("button", name="Accept").click()
    expect(page.get_by_text("Offer accepted")).to_be_visible()
    page.reload()
    expect(page.locator(".ref-state")).to_have_text("Scheduled")
    expect(page.locator("[data-appointment]")).to_contain_text("Ngozi Adeyemi")
    page.screenshot(path=str(SHOTS / "rebooked.png"), full_page=True)
    ben.refresh_from_db()
    assert ben.state == State.SCHEDULED and ben.appointment_ref
    # Ben's old appointment was cancelled on the EHR once the earlier one was booked.
    old = OutboxMessage.objects.filter(resource_type="Appointment", operation="update").exclude(pk=cancelled.pk).get()
    assert old.status == OutboxMessage.Status.SENT and old.changes["status"] == "cancelled"
    assert not violations and not errors, (violations, errors)
