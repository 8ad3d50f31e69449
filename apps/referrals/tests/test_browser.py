"""Schedulers in a real browser (headless Chromium via Playwright): claim, triage, accept,
record outreach and watch the EHR's booking schedule the referral; two people claim one item;
the keyboard shortcuts; screenshots of the worklist and item page at 1366×768 in /tmp."""

import json
import os
import random
import re
import tempfile
from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.core.roles import Role
from apps.ehr.services.sources import source_upsert
from apps.referrals.models import Referral
from apps.referrals.workflow import State
from apps.workflow.models import Outreach
from apps.workflow.services import note_add, transition_record
from tests.plugins.browser import sign_in
from tests.plugins.core import ServiceLineFactory, SiteFactory, UserFactory
from tests.plugins.ehr_store import store_make
from tests.plugins.referral_feed import appointment
from tests.plugins.referrals import ReferralFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = os.environ.get("CLINOPS_SCREENSHOTS", tempfile.gettempdir())


@pytest.fixture
def north(transactional_db):
    return SiteFactory(code="north", name="North Clinic", timezone="America/New_York")


@pytest.fixture
def sam(north):
    return UserFactory(username="sam", first_name="Sam", last_name="Rivera", role=Role.SCHEDULER, sites=[north])


def test_a_scheduler_claims_triages_accepts_reaches_out_and_sees_the_ehr_book_it(page: Page, live_server, north, sam):
    source, token = source_upsert(name="ehr-north", base_url="http://127.0.0.1:9/fhir")
    referral = ReferralFactory(
        site=north, source=source, sr_id="sr1", priority="urgent", patient__family="Okafor", patient__given="Ada"
    )
    ReferralFactory(site=north, patient__family="Other")
    sign_in(page, live_server.url, "sam")

    page.get_by_role("link", name="Referrals").click()
    row = page.locator(f"#row-{referral.pk}")
    expect(row).to_contain_text("Okafor, Ada")
    expect(row).to_contain_text("Urgent")
    row.get_by_role("button", name="Claim").click()
    expect(row.get_by_role("button", name="Release")).to_be_visible()  # swapped in place, no reload
    expect(row).to_contain_text("You")

    expect(row).to_have_class(re.compile("is-selected"))  # the row clicked in is the selected one
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("Cardiology"))).to_be_visible()
    expect(page.locator(".patient-banner")).to_contain_text("Okafor, Ada")

    page.get_by_role("button", name="Start triage").click()
    expect(page.locator("#flash")).to_contain_text("Triage started.")
    expect(page.locator(".ref-state")).to_have_text("In triage")
    page.get_by_role("button", name="Accept").click()
    expect(page.locator(".ref-state")).to_have_text("Accepted")
    page.get_by_role("button", name="Start scheduling").click()
    expect(page.locator(".ref-state")).to_have_text("Scheduling")

    outreach = page.get_by_role("form", name="Record an outreach attempt")
    outreach.get_by_label("Channel").select_option("phone")
    outreach.get_by_label("Outcome").select_option("left_message")
    outreach.get_by_label("Note").fill("Voicemail, mobile")
    outreach.get_by_role("button", name="Record attempt").click()
    expect(page.locator(".outreach-table")).to_contain_text("Left a message")
    expect(page.locator("#flash")).to_contain_text("Outreach attempt recorded.")

    # The EHR books an Appointment for the referral, through the real webhook.
    booked = page.request.post(
        f"{live_server.url}/integrations/{source.name}/fhir",
        data=json.dumps(appointment("appt-1", sr_id="sr1")),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
    )
    assert booked.status == 202, booked.text()
    page.reload()
    expect(page.locator(".ref-state")).to_have_text("Scheduled")
    expect(page.locator(".timeline")).to_contain_text("EHR event")
    expect(page.locator(".timeline")).to_contain_text("Scheduling → Scheduled")
    assert Referral.objects.get(pk=referral.pk).state == State.SCHEDULED
    page.screenshot(path=f"{SHOTS}/referrals-item-scheduled.png")


def test_two_people_claim_the_same_referral_and_one_is_told_who_has_it(browser, live_server, north, sam):
    UserFactory(username="kim", first_name="Kim", last_name="Okafor", role=Role.SCHEDULER, sites=[north])
    referral = ReferralFactory(site=north, patient__family="Nguyen")
    pages = {}
    for username in ("sam", "kim"):
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        pages[username] = context.new_page()
        sign_in(pages[username], live_server.url, username)
        pages[username].goto(f"{live_server.url}/referrals/")
        expect(pages[username].locator(f"#row-{referral.pk}").get_by_role("button", name="Claim")).to_be_visible()

    pages["sam"].locator(f"#row-{referral.pk}").get_by_role("button", name="Claim").click()
    expect(pages["sam"].locator(f"#row-{referral.pk}")).to_contain_text("You")

    kim = pages["kim"]
    kim.locator(f"#row-{referral.pk}").get_by_role("button", name="Claim").click()
    claimed_at = timezone.localtime(Referral.objects.get().claimed_at, north.tzinfo)
    expect(kim.get_by_role("alert")).to_contain_text(f"Already claimed by Sam Rivera at {claimed_at:%H:%M}.")
    expect(kim.locator(f"#row-{referral.pk}")).to_contain_text("Sam Rivera")  # the row shows who has it now
    expect(kim.locator(f"#row-{referral.pk}").get_by_role("button", name="Claim")).to_have_count(0)
    assert Referral.objects.get().assignee.username == "sam"
    kim.screenshot(path=f"{SHOTS}/referrals-claim-refused.png")


def test_keyboard_shortcuts_and_filters(page: Page, live_server, north, sam):
    first = ReferralFactory(site=north, priority="stat", patient__family="First")
    second = ReferralFactory(site=north, priority="urgent", patient__family="Second")
    sign_in(page, live_server.url, "sam")
    page.goto(f"{live_server.url}/referrals/")
    page.keyboard.press("?")
    expect(page.get_by_text("Next / previous referral")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_text("Next / previous referral")).to_be_hidden()

    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.locator(f"#row-{second.pk}")).to_have_class(re.compile("is-selected"))
    page.keyboard.press("c")
    expect(page.locator(f"#row-{second.pk}")).to_contain_text("You")
    # The swapped row is selected again once htmx has settled it (and bound its forms).
    expect(page.locator(f"#row-{second.pk}")).to_have_class(re.compile("is-selected"))
    page.keyboard.press("r")
    expect(page.locator(f"#row-{second.pk}").get_by_role("button", name="Claim")).to_be_visible()
    expect(page.locator(f"#row-{second.pk}")).to_have_class(re.compile("is-selected"))
    page.keyboard.press("k")
    expect(page.locator(f"#row-{first.pk}")).to_have_class(re.compile("is-selected"))

    page.keyboard.press("/")
    expect(page.get_by_label("Site")).to_be_focused()
    page.get_by_label("Priority").select_option("urgent")  # htmx swaps the results and pushes the URL
    expect(page).to_have_url(re.compile(r"priority=urgent"))
    expect(page.locator(f"#row-{first.pk}")).to_have_count(0)
    expect(page.locator(f"#row-{second.pk}")).to_be_visible()


def test_screenshots_of_a_busy_worklist_and_an_item(page: Page, live_server, north, sam):
    """Look at these (1366×768): density, alignment, truncation, contrast."""
    south = SiteFactory(code="south", name="South Hospital", timezone="America/New_York")
    boss = UserFactory(username="boss", first_name="Dana", last_name="Whitfield", role=Role.SUPERVISOR,
                       sites=[north, south])  # fmt: skip
    kim = UserFactory(username="kim", first_name="Kim", last_name="Okafor", role=Role.SCHEDULER, sites=[north, south])
    for code, name in [("cardiology", "Cardiology"), ("neurology", "Neurology")]:
        north.service_lines.add(ServiceLineFactory(code=code, name=name))
    people = [
        ("Rivera", "Ana"), ("Nguyen", "Thi Minh"), ("O'Connor", "Siobhan"), ("Kowalczyk-Wiśniewska", "Aleksandra"),
        ("Haddad", "Karim"), ("Garcia", "Lucia"), ("Johansson", "Erik"), ("Patel", "Priya"),
    ]  # fmt: skip
    reasons = [
        ("Cardiology", "Chest pain on exertion, abnormal ECG"),
        ("Orthopaedics", "Right knee pain after a fall, suspected meniscal tear; MRI requested by the GP"),
        ("Neurology", "Recurrent migraines with aura"),
        ("Dermatology", "Changing pigmented lesion on the back"),
    ]
    rng, now = random.Random(5), timezone.now()
    priorities = ["routine"] * 4 + ["urgent", "stat"]
    states = [State.RECEIVED] * 4 + [State.TRIAGE] * 3 + [State.ACCEPTED, State.SCHEDULING, State.NEEDS_INFO]
    for i in range(40):
        opened = now - timedelta(hours=rng.randint(2, 400))
        due = opened + timedelta(days=rng.choice([1, 3, 5, 10]))
        family, given = people[i % len(people)]
        specialty, reason = reasons[i % len(reasons)]
        state = rng.choice(states)
        ReferralFactory(
            site=rng.choice([north, north, south]), state=state, priority=rng.choice(priorities),
            specialty_display=specialty, reason=reason, opened_at=opened, due_at=due, warn_at=due - timedelta(hours=12),
            assignee=rng.choice([None, None, sam, kim]), claimed_at=opened,
            sla_paused_at=now if state == State.NEEDS_INFO else None,
            exception_reason="Unknown priority code 'R2'" if i == 6 else "",
            patient__family=family, patient__given=given, patient__birth_date=date(1940 + i, 1 + i % 12, 1 + i % 27),
        )  # fmt: skip
    item = ReferralFactory(
        site=north, state=State.TRIAGE, priority="urgent", opened_at=now - timedelta(days=6), assignee=sam,
        claimed_at=now - timedelta(days=5), due_at=now - timedelta(hours=5), warn_at=now - timedelta(days=1),
        patient__family="Rivera", patient__given="Ana", patient__gender="female", patient__mrn="MRN-004217",
        requester_ref="Practitioner/dr-amari", reason="Chest pain on exertion, abnormal ECG",
    )  # fmt: skip
    Referral.objects.filter(pk=Referral.objects.filter(site=north).exclude(pk=item.pk).last().pk).update(
        possible_duplicate_of=item
    )
    for kind, text in [("Referral letter", "From Dr Amari"), ("ECG report", "12-lead ECG")]:
        store_make("DocumentReference", f"doc-{kind[:3]}", source=item.source, subject_ref=item.patient_ref,
                   type_display=kind, description=text, status="current", date=now - timedelta(days=2))  # fmt: skip
    transition_record(item, transition="receive", from_state="", source="ehr", reason="ServiceRequest from the EHR")
    note_add(workflow="referral", item_id=item.pk, text="Prefers morning appointments; call after 9.", by=boss)
    for outcome in ["no_answer", "left_message"]:
        Outreach.objects.create(workflow="referral", item_id=item.pk, site=item.site, by=sam, channel="phone",
                                outcome=outcome, note="Mobile")  # fmt: skip

    sign_in(page, live_server.url, "boss")
    page.goto(f"{live_server.url}/referrals/")
    expect(page.locator("#worklist-table tbody tr")).to_have_count(41)
    page.keyboard.press("j")
    page.screenshot(path=f"{SHOTS}/referrals-worklist.png")
    page.goto(f"{live_server.url}/referrals/{item.pk}/")
    expect(page.locator(".patient-banner")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/referrals-item.png")
    page.get_by_text("Decline…").click()
    page.screenshot(path=f"{SHOTS}/referrals-item-decline.png")
    page.screenshot(path=f"{SHOTS}/referrals-item-full.png", full_page=True)
    page.context.clear_cookies()
    sign_in(page, live_server.url, "sam")
    page.goto(f"{live_server.url}/referrals/?due=overdue")
    page.screenshot(path=f"{SHOTS}/referrals-worklist-scheduler.png")
