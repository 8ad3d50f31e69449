"""A steward's day past the walls of issue 14 (headless Chromium at 1366x768): the draft fits the
screen, "Submit for review" keeps an unsaved row, the impact preview's items are listed to the
steward, "Activate now" asks first, and activation re-routes every item the preview listed."""

import os
import re

import pytest
from playwright.sync_api import Page, expect

from apps.referrals.models import Referral
from apps.terminology.models import ConceptMapVersion
from apps.terminology.workflow import State
from apps.workflow.models import Transition
from tests.plugins.browser import csp_violations
from tests.plugins.core import PASSWORD
from tests.plugins.referral_feed import make_source, service_request
from tests.plugins.terminology import steward

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = os.environ.get("CLINOPS_SCREENSHOTS", "/tmp/shots/steward")  # noqa: S108 - test artefacts
DERMATOLOGY = {"coding": [{"system": "http://snomed.info/sct", "code": "394582007", "display": "Dermatology"}]}


def sign_in(page: Page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Terminology")).to_be_visible()


def fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1366, f"the page is {width} px wide at 1366"


def test_a_steward_changes_a_specialty_map_and_every_listed_referral_is_rerouted(
    page: Page, live_server, django_capture_on_commit_callbacks
):
    from tests.plugins.ehr_messages import feed

    os.makedirs(SHOTS, exist_ok=True)
    base = live_server.url
    violations = csp_violations(page)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    bad: list[str] = []
    page.on("response", lambda r: bad.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    source, _ = make_source()  # SNOMED cardiology → cardiology is active (version 1)
    capture = django_capture_on_commit_callbacks
    feed(source, *[service_request(f"sr{n}", patient=f"p{n}") for n in range(3)], capture=capture)
    feed(source, *[service_request(f"d{n}", patient=f"q{n}", performerType=DERMATOLOGY) for n in range(2)],
         capture=capture)  # fmt: skip
    assert sorted(Referral.objects.values_list("queue", flat=True)) == ["exceptions"] * 2 + ["triage"] * 3
    steward("alice", first_name="Alice", last_name="Author")
    steward("bob", first_name="Bob", last_name="Reviewer")

    # Alice starts a draft: the page fits the screen.
    sign_in(page, base, "alice")
    page.get_by_role("link", name="Terminology").click()
    page.get_by_role("link", name="snomed-specialty").click()
    page.get_by_label("What will change, and why").fill("Heart failure clinic moves to nephrology; add dermatology")
    page.get_by_role("button", name="Start a draft from version 1").click()
    expect(page.get_by_role("heading", name=re.compile("Version 2 of .* is Draft"))).to_be_visible()
    page.screenshot(path=f"{SHOTS}/steward-1-draft.png")
    fits(page)

    # Enter in a row saves it (the form's default button), it does not submit the draft.
    page.locator('input[name="elements-0-comment"]').fill("Clinic list of March")
    page.locator('input[name="elements-0-comment"]').press("Enter")
    expect(page.get_by_text("Version 2 saved.")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("is Draft"))).to_be_visible()

    # She changes one row and adds another, and submits without pressing Save: nothing is lost.
    page.locator('select[name="elements-0-target_code"]').select_option("nephrology")
    page.locator('input[name="elements-1-source_code"]').fill("394582007")
    page.locator('input[name="elements-1-source_display"]').fill("Dermatology")
    page.locator('select[name="elements-1-target_code"]').select_option("dermatology")
    fits(page)
    page.locator("#elements-group").scroll_into_view_if_needed()
    page.screenshot(path=f"{SHOTS}/steward-1b-draft-rows.png")
    page.get_by_label("Note for the reviewer").fill("Both rows checked with the clinic list")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_text("Version 2 saved and submitted for review.")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("is In review"))).to_be_visible()
    expect(page.locator("table.term-diff")).to_contain_text("394582007")
    page.screenshot(path=f"{SHOTS}/steward-2-submitted.png")

    # Bob approves; the impact preview counts five referrals, in triage and in exceptions.
    sign_in(page, base, "bob")
    version = ConceptMapVersion.objects.get(number=2)
    page.goto(f"{base}/admin/terminology/conceptmapversion/{version.pk}/change/")
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("is Approved"))).to_be_visible()
    impact = page.locator("table.term-impact")
    expect(page.get_by_text("5 open items would change.")).to_be_visible()
    page.locator("table.term-impact").scroll_into_view_if_needed()
    page.screenshot(path=f"{SHOTS}/steward-3-impact-preview.png")

    # "See the items" of the triage row lists exactly those three, with no patient data.
    impact.get_by_role("row", name=re.compile("Triage")).get_by_role("link", name="See the items").click()
    expect(page.get_by_role("heading", name=re.compile("Open work items version 2"))).to_be_visible()
    listed = page.locator("table.term-impact tbody tr")
    expect(listed).to_have_count(3)
    triage = sorted(Referral.objects.filter(queue="triage").values_list("pk", flat=True))
    for pk in triage:
        expect(page.locator("table.term-impact")).to_contain_text(f"#{pk}")
    expect(listed.first).to_contain_text("Cardiology")
    expect(listed.first).to_contain_text("Nephrology")
    assert not re.search(r"Patient/|\bp[0-9]\b|\bq[0-9]\b", page.locator("#content-main").inner_text())
    fits(page)
    page.screenshot(path=f"{SHOTS}/steward-4-see-the-items.png")

    # "Activate now" asks first, saying what it will do.
    page.get_by_role("link", name="Back to version 2").click()
    page.get_by_role("link", name="Activate now…").click()
    expect(page.get_by_text("5 open work items will be re-routed")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/steward-5-confirm.png")
    page.get_by_role("button", name="Activate version 2 now").click()
    expect(page.get_by_text("Version 2 activated. 5 open work items re-routed.")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("is Active"))).to_be_visible()
    page.screenshot(path=f"{SHOTS}/steward-6-activated.png")
    page.go_back()  # Back to the confirmation: it says the version is active, nothing is resubmitted
    expect(page.get_by_text(re.compile("only an approved version can be activated"))).to_be_visible()

    rerouted = Transition.objects.filter(workflow="referral", transition="route", source="system")
    assert rerouted.count() == 5  # every referral the preview listed
    assert sorted(Referral.objects.values_list("queue", "canonical_specialty")) == [
        ("triage", "dermatology"), ("triage", "dermatology"),
        ("triage", "nephrology"), ("triage", "nephrology"), ("triage", "nephrology"),
    ]  # fmt: skip
    version.refresh_from_db()
    assert version.state == State.ACTIVE
    assert violations == [] and errors == [] and bad == []
