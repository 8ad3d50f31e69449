"""A whole shift per role on the demo history (issue 14, "Done when"), in a real browser (headless
Chromium via Playwright, 1366×768): each demo user signs in and works through their day to its end.
The history (seed_demo + demo_start) is loaded once and every role walks on it in turn, in the order
of a day (the scheduler's fax is what the compliance officer looks up at the end); each walk is
reported on its own, and one failed walk does not hide the others.

Every walk fails on a console error, a page error, a CSP violation, an answer of 400 or more the
user did not cause, a page wider than the screen, and a snake_case word or URI in what a page shows.
Screenshots of each step go to $CLINOPS_SCREENSHOTS (default /tmp/shots/shifts)."""

import os
import re
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.core.models import Site, User
from apps.demo.seeds.people import DEMO_PASSWORD
from apps.ehr.models import EhrSource, OutboxMessage, Patient
from apps.intake.models import Intake
from apps.intake.selectors import site_today
from apps.intake.workflow import BEFORE_ARRIVAL
from apps.intake.workflow import State as IntakeState
from apps.referrals.models import Referral
from apps.results.models import ResultItem
from apps.results.workflow import State as ResultState
from tests.plugins.plain_words import internal_words
from tests.plugins.results import SOURCE as RESULTS_TEST_SOURCE
from tests.plugins.results import result_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = Path(os.environ.get("CLINOPS_SCREENSHOTS", "/tmp/shots/shifts"))  # noqa: S108 - screenshots to look at
DOCS = Path(django_settings.BASE_DIR) / "docs" / "tour"  # the README tour's images
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class Shift:
    """One role's walk: the page, what went wrong on it, and the screenshots taken."""

    page: Page
    base: str
    role: str
    problems: list[str] = field(default_factory=list)
    allowed: list[int] = field(default_factory=list)  # statuses the user is causing right now
    shots: int = 0

    def go(self, path: str) -> None:
        self.page.goto(f"{self.base}{path}")

    def look(self, name: str, *, uris: bool = True, tour: str = "") -> None:
        """Check what the page shows (no internal word, no sideways scroll) and take its screenshot;
        a ``tour`` page is also one of the README tour's images (written with CLINOPS_UPDATE_DOCS=1)."""
        self.page.wait_for_load_state()
        words = internal_words(self.page.content(), uris=uris)
        if words:
            self.problems.append(f"{self.page.url}: internal words {sorted(set(words))}")
        width = self.page.evaluate("document.documentElement.scrollWidth")
        if width > 1366:
            self.problems.append(f"{self.page.url}: {width} px wide at 1366")
        hidden = self.page.evaluate(
            "[...document.querySelectorAll('.table-wrap')].filter(el => el.scrollWidth > el.clientWidth + 1).length"
        )
        if hidden:
            self.problems.append(f"{self.page.url}: {hidden} table(s) scroll sideways at 1366 (columns out of sight)")
        nav_height = self.page.evaluate("document.querySelector('.topbar')?.scrollHeight || 0")
        if nav_height > 52:
            self.problems.append(f"{self.page.url}: the top bar wraps ({nav_height} px high)")
        self.shots += 1
        self.page.screenshot(path=str(SHOTS / f"{self.role}-{self.shots:02d}-{name}.png"))
        if tour and os.environ.get("CLINOPS_UPDATE_DOCS") == "1":
            self.page.screenshot(path=str(DOCS / f"{tour}.png"))

    @contextmanager
    def user_mistake(self, status: int) -> Iterator[None]:
        """An answer the user causes (a form sent with a mistake) is not a problem."""
        self.allowed.append(status)
        try:
            yield
        finally:
            self.allowed.remove(status)


def _watch(page: Page, current: list[Shift]) -> None:
    def console(msg) -> None:
        shift = current[-1]
        if msg.type == "error" and not any(f"status of {s}" in msg.text for s in shift.allowed):
            shift.problems.append(f"console: {msg.text} ({page.url})")

    def response(r) -> None:
        shift = current[-1]
        if r.status >= 400 and r.status not in shift.allowed:
            try:
                said = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.text()))[:300]
            except Exception:
                said = ""
            shift.problems.append(f"{r.status} {r.request.method} {r.url}: {said}")

    page.on("console", console)
    page.on("pageerror", lambda exc: current[-1].problems.append(f"page error: {exc}"))
    page.on("response", response)


def sign_in(shift: Shift, username: str) -> None:
    page = shift.page
    page.context.clear_cookies()
    shift.go("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def sign_out(shift: Shift) -> None:
    if not shift.page.get_by_role("button", name="Sign out").count():  # the admin's pages have their own header
        shift.go("/")
    shift.page.get_by_role("button", name="Sign out").click()
    expect(shift.page.get_by_label("Username")).to_be_visible()


def nav(shift: Shift, label: str) -> None:
    shift.page.get_by_role("navigation", name="Main").get_by_role("link", name=label, exact=True).click()


# --- the walks -------------------------------------------------------------------------------


def scheduler(shift: Shift, tmp: Path) -> None:
    """My work → "Open my next item" (one with something to do) → claim, triage, accept, start
    scheduling (the next-step sentence after each) → a queue from my work → the patient by MRN and
    their page → a faxed referral for them → what is still claimed released: nothing claimed."""
    page = shift.page
    sign_in(shift, "scheduler")
    expect(page.get_by_role("heading", name="Hello, Sam")).to_be_visible()
    expect(page.get_by_role("heading", name="Your queues")).to_be_visible()
    shift.look("my-work", tour="01-scheduler-my-work")

    page.get_by_role("link", name="Open my next item").click()
    step = page.locator("[data-next-step]")
    expect(step).to_be_visible()
    assert "Nothing to do now" not in step.inner_text(), "the next item has nothing to do"
    referral_id = int(re.search(r"/referrals/(\d+)/", page.url).group(1))
    shift.look("next-item")
    page.get_by_role("button", name="Claim").click()
    expect(page.get_by_role("button", name="Release")).to_be_visible()
    # Triage it and start scheduling: after each step the page says what comes next.
    for button in ("Start triage", "Accept", "Start scheduling"):
        if page.get_by_role("button", name=button, exact=True).count():
            before = step.inner_text()
            page.get_by_role("button", name=button, exact=True).click()
            expect(step).not_to_have_text(before)  # htmx swapped the item in: its new next step
            shift.look(f"referral-after-{button.lower().replace(' ', '-')}")
    expect(step).to_contain_text("Find a free slot and book it here")
    assert Referral.objects.get(pk=referral_id).state == "scheduling"
    page.locator("[data-next-step]").scroll_into_view_if_needed()
    shift.look("referral-scheduling", tour="03-referral-next-step")

    nav(shift, "Home")
    page.locator("#queues-h").locator("xpath=..").get_by_role("link", name=re.compile("^Referral: ")).first.click()
    expect(page.get_by_role("heading", name="Referrals", exact=True)).to_be_visible()
    expect(page.locator("#worklist-table tbody tr").first).to_be_visible()
    shift.look("a-queue", tour="02-scheduler-referrals-worklist")

    nav(shift, "Patients")
    patient = Patient.objects.get(fhir_id=Referral.objects.get(pk=referral_id).patient_ref.split("/", 1)[1])
    page.get_by_label("MRN").fill(patient.mrn)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="1 patient found")).to_be_visible()
    shift.look("patient-search")
    page.get_by_role("link", name="Open patient").first.click()
    expect(page.get_by_role("link", name=f"Referral {referral_id}")).to_be_visible()
    shift.look("patient-page", tour="04-patient")

    page.get_by_role("link", name="Enter a referral").click()
    expect(page.get_by_role("heading", name=re.compile("Referral for"))).to_be_visible()
    page.get_by_label("Service").select_option(index=1)
    page.get_by_label("Priority").select_option("urgent")
    page.get_by_label("Arrived by").select_option("fax")
    page.get_by_label("Reason for referral").fill("Palpitations; abnormal ECG at the GP (faxed)")
    fax = tmp / "fax.pdf"
    fax.write_bytes(PDF)
    page.get_by_label("Referral letter (PDF)").set_input_files(str(fax))
    shift.look("fax-referral-form")
    page.get_by_role("button", name="Enter the referral").click()
    expect(page.get_by_role("heading", name="Entered by hand")).to_be_visible()
    shift.look("fax-referral-entered", tour="05-fax-referral-entered")
    assert Referral.objects.filter(entered_by_hand=True, reason__contains="faxed").count() == 1

    # The end of the shift: what is still claimed is handed back from my work, which then says so.
    nav(shift, "Home")
    # How many the history left claimed depends on the hour the suite runs: release them all.
    for _ in range(Referral.objects.filter(assignee__username="scheduler", is_open=True).count() + 1):
        claimed = page.locator("#claimed-h").locator("xpath=..").locator("a[href^='/referrals/']")
        if not claimed.count():
            break
        claimed.first.click()
        page.get_by_role("button", name="Release").click()
        expect(page.get_by_role("button", name="Claim")).to_be_visible()
        nav(shift, "Home")
    expect(page.get_by_text("You have claimed nothing.")).to_be_visible()
    assert not Referral.objects.filter(assignee__username="scheduler", is_open=True).exists()
    shift.look("end-nothing-claimed")
    sign_out(shift)


def medical_assistant(shift: Shift, tmp: Path) -> None:
    """The front desk: today's visits (a walk-in added, then checked in), a past day with a patient
    who never came (no-show); then the results follow-up: tell a patient, book the follow-up."""
    page = shift.page
    north = Site.objects.get(code="north")
    today = site_today(north)
    # The history's visits of today have all arrived; one booked for a later day was missed two days ago.
    missed = Intake.objects.filter(site=north, state__in=BEFORE_ARRIVAL, is_open=True).order_by("visit_start").first()
    two_days_ago = missed.visit_start - timedelta(days=(missed.visit_date - today).days + 2)
    Intake.objects.filter(pk=missed.pk).update(visit_start=two_days_ago, visit_date=today - timedelta(days=2))
    sign_in(shift, "ma")
    expect(page.get_by_role("heading", name="Hello, Maya")).to_be_visible()
    shift.look("my-work")

    nav(shift, "Intake")
    expect(page.locator("#intake-day-title")).to_contain_text("North Clinic — today")
    shift.look("intake-today")
    page.get_by_role("link", name="Add a walk-in").click()
    family = Patient.objects.exclude(family="").order_by("pk").first().family
    page.get_by_label("Name").fill(family)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Add a walk-in today").first.click()
    expect(page.get_by_role("heading", name="Walk-in for")).to_be_visible()
    local = timezone.localtime(timezone.now(), north.tzinfo)
    page.get_by_label("Time today").fill(local.strftime("%H:%M"))
    shift.look("walk-in-form")
    page.get_by_role("button", name="Add to today").click()
    expect(page.get_by_text("Walk-in added to today at North Clinic")).to_be_visible()
    walk_in = Intake.objects.get(entered_by_hand=True)
    row = page.locator(f"#intake-{walk_in.pk}")
    row.get_by_role("button", name="Check in").click()
    expect(page.locator(f"#intake-{walk_in.pk} .intake-state")).to_contain_text("Checked in")
    shift.look("intake-walk-in-checked-in", tour="07-ma-intake-day")
    assert Intake.objects.get(pk=walk_in.pk).state == IntakeState.CHECKED_IN

    page.get_by_role("link", name="‹ Previous day").click()
    page.get_by_role("link", name="‹ Previous day").click()
    expect(page.locator(f"#intake-{missed.pk}")).to_be_visible()
    page.locator(f"#intake-{missed.pk}").get_by_role("button", name="No-show").click()
    expect(page.locator(f"#intake-{missed.pk} .intake-state")).to_contain_text("No-show")
    shift.look("intake-past-day-no-show")
    assert Intake.objects.get(pk=missed.pk).state == IntakeState.NO_SHOW

    nav(shift, "Pre-visit worklist")
    expect(page.get_by_role("heading", name="Pre-visit worklist", exact=True)).to_be_visible()
    shift.look("pre-visit-worklist", tour="08-ma-pre-visit-worklist")

    nav(shift, "Results worklist")
    expect(page.get_by_role("heading", name="Results", exact=True)).to_be_visible()
    shift.look("results-worklist", tour="09-ma-results-worklist")
    # The critical potassium the clinician reviewed: tell the patient, which closes it.
    to_tell = ResultItem.objects.get(site=north, state=ResultState.REVIEWED, is_open=True, criticality="critical")
    row = page.locator(f"#row-{to_tell.pk}")
    expect(row).to_contain_text("stop the potassium")
    row.get_by_role("button", name="Claim").click()
    expect(row).to_contain_text("You")
    row.locator("a.row-link").click()
    expect(page.locator("[data-next-step]")).to_be_visible()
    shift.look("result-to-tell")
    page.get_by_label("How was the patient told?").select_option("phone")
    page.get_by_label("Note").first.fill("Spoke to the patient; she stops the supplement.")
    page.get_by_role("button", name="Record notification and close").click()
    expect(page.get_by_text("Notification recorded.")).to_be_visible()
    shift.look("result-told-and-closed")
    assert not ResultItem.objects.get(pk=to_tell.pk).is_open
    # An overdue follow-up: the visit took place, the result is closed.
    nav(shift, "Results worklist")
    page.get_by_label("Due").select_option(label="Overdue")  # htmx swaps the list in
    expect(page).to_have_url(re.compile("due=overdue"))
    # Wait for the swap before the next click: the test database is one SQLite connection shared by the
    # live server's threads, so two requests at once can interrupt each other's session save.
    page.wait_for_load_state("networkidle")
    booked = page.locator("#worklist-table tbody tr").first
    booked.get_by_role("button", name="Claim").click()
    expect(booked).to_contain_text("You")
    booked.locator("a.row-link").click()
    expect(page.locator("[data-next-step]")).to_be_visible()
    shift.look("result-follow-up")
    page.get_by_role("button", name="Close", exact=True).click()
    expect(page.get_by_text("State: Closed")).to_be_visible()
    shift.look("result-closed")
    nav(shift, "Home")
    expect(page.get_by_text("You have claimed nothing.")).to_be_visible()
    shift.look("end-nothing-claimed")
    sign_out(shift)


def clinician(shift: Shift, tmp: Path) -> None:
    """The results inbox with a critical potassium that just arrived: review it (the MA tells the
    patient), acknowledge the normal ones, review the abnormal one, then name a colleague to cover."""
    page = shift.page
    north = Site.objects.get(code="north")
    dr = User.objects.get(username="clinician")
    patient = Patient.objects.filter(source__name="demo-ehr").exclude(family="").order_by("-pk").first()
    potassium = [{"ref": "Observation/k-crit", "code": "http://loinc.org|2823-3", "display": "Potassium",
                  "value": 6.9, "unit": "mmol/L", "low": 3.5, "high": 5.1, "range": "", "interpretation": "HH",
                  "status": "final"}]  # fmt: skip
    critical = result_make(north, criticality="critical", assignee=dr, ordering_clinician=dr, patient=False,
                           code_display="Potassium", values=potassium)  # fmt: skip
    # One of the demo's patients, from the demo EHR (a 21-day history leaves no critical result unreviewed).
    ResultItem.objects.filter(pk=critical.pk).update(patient_ref=f"Patient/{patient.fhir_id}", source=patient.source)
    EhrSource.objects.filter(name=RESULTS_TEST_SOURCE).delete()  # the helper's own source: not the demo's
    sign_in(shift, "clinician")
    shift.look("my-work")
    nav(shift, "Results inbox")
    expect(page.get_by_role("heading", name="Critical 1")).to_be_visible()
    expect(page.locator(f"#result-{critical.pk}")).to_contain_text(f"{patient.family}, {patient.given}")
    shift.look("results-inbox", tour="06-clinician-results-inbox")
    page.locator(f"#result-{critical.pk}").get_by_role("link", name="Review").click()
    expect(page.get_by_text("6.9").first).to_be_visible()
    shift.look("critical-result")
    page.get_by_label("Notify the patient only").check()
    page.get_by_label("Note for the MA").fill("Call today: stop the potassium supplement, repeat tomorrow.")
    page.get_by_role("button", name="Mark reviewed").click()
    expect(page.get_by_text("Result reviewed.")).to_be_visible()
    shift.look("critical-reviewed")
    assert ResultItem.objects.get(pk=critical.pk).state == ResultState.REVIEWED

    nav(shift, "Results inbox")
    normal = page.locator("input[type=checkbox][name=items]")
    if normal.count():
        normal.first.check()
        page.get_by_role("button", name="Acknowledge selected normal results").click()
        expect(page.get_by_text(re.compile("Acknowledged 1 normal result"))).to_be_visible()
    while page.get_by_role("link", name="Review").count():
        page.get_by_role("link", name="Review").first.click()
        shift.look("result-to-review")
        page.get_by_label("None", exact=True).check()
        page.get_by_role("button", name="Mark reviewed").click()
        expect(page.get_by_text("Result reviewed.")).to_be_visible()
        nav(shift, "Results inbox")
    expect(page.get_by_text("Nothing waiting.").first).to_be_visible()
    shift.look("inbox-empty")

    page.get_by_role("link", name="Cover while I'm away").click()
    page.get_by_label("Covered by").select_option(index=1)
    start = timezone.localtime(timezone.now()) + timedelta(days=1)
    page.get_by_label("From").fill(start.strftime("%Y-%m-%dT08:00"))
    page.get_by_label("Until").fill((start + timedelta(days=2)).strftime("%Y-%m-%dT18:00"))
    page.get_by_role("button", name="Save cover").click()
    expect(page.get_by_text("Cover saved")).to_be_visible()
    shift.look("cover-saved")
    sign_out(shift)


def supervisor(shift: Shift, tmp: Path) -> None:
    """My work across three sites → the referrals of every site (a site column) → assign one to the
    scheduler, move an overdue one to the supervisor queue (its clock kept) → the exceptions, each
    telling who acts next → the results exceptions."""
    page = shift.page
    sign_in(shift, "supervisor")
    expect(page.get_by_role("heading", name="Your queues")).to_be_visible()
    shift.look("my-work")
    nav(shift, "Referrals")
    expect(page.get_by_role("columnheader", name="Site")).to_be_visible()
    shift.look("referrals-all-sites")
    north = Referral.objects.filter(site__code="north", is_open=True, assignee__isnull=True,
                                    state__in=["received", "triage", "accepted", "scheduling"]).first()  # fmt: skip
    page.locator(f"#row-{north.pk}").get_by_role("checkbox").check()
    page.locator("#bulk-assignee").select_option(label="Sam Rivera")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.get_by_text(re.compile("1 referral assigned"))).to_be_visible()
    assert Referral.objects.get(pk=north.pk).assignee.username == "scheduler"
    south = Referral.objects.filter(site__code="south", is_open=True, due_at__lt=timezone.now())
    south = south.exclude(queue__in=["exceptions", "supervisor"]).order_by("due_at").first()
    due = south.due_at
    page.locator(f"#row-{south.pk}").get_by_role("checkbox").check()
    page.locator("#bulk-queue").select_option(label="Supervisor")
    page.get_by_role("button", name="Move").click()
    expect(page.get_by_text("1 referral moved to Supervisor.")).to_be_visible()
    expect(page.locator(f"#row-{south.pk}")).to_contain_text("Overdue by")
    assert Referral.objects.get(pk=south.pk).due_at == due
    shift.look("referrals-assigned-and-moved", tour="10-supervisor-referrals-all-sites")

    page.get_by_role("link", name="Exceptions").first.click()
    held = page.locator("#worklist-table tbody tr").first
    held.locator("a.row-link").click()
    expect(page.locator("[data-next-step]")).to_contain_text("steward")
    shift.look("referral-exception")

    nav(shift, "Results worklist")
    expect(page.get_by_role("columnheader", name="Site")).to_be_visible()
    shift.look("results-all-sites")
    nav(shift, "Pre-visit worklist")
    shift.look("pre-visit-all-sites")
    sign_out(shift)


def steward(shift: Shift, tmp: Path) -> None:
    """The unmapped dermatology code → a draft with it mapped → submitted; steward2 approves, sees the
    impact, activates after the confirmation, and the held referral leaves the exceptions."""
    page = shift.page
    held = list(Referral.objects.filter(queue="exceptions", is_open=True).values_list("pk", flat=True))
    sign_in(shift, "steward")
    expect(page.get_by_role("heading", name="Terminology: waiting for you")).to_be_visible()
    shift.look("home")
    page.get_by_role("link", name=re.compile("unmapped codes?")).click()
    expect(page.get_by_text("394582007")).to_be_visible()
    shift.look("unmapped-codes", uris=False)
    page.get_by_role("row", name=re.compile("394582007")).get_by_role(
        "link", name="Draft a mapping for this code"
    ).click()
    if page.get_by_role("button", name=re.compile("Start a draft")).count():
        shift.look("draft-choose-map", uris=False)
        page.get_by_role("button", name=re.compile("Start a draft")).first.click()
    expect(page.get_by_role("heading", name=re.compile("is Draft"))).to_be_visible()
    code_input = page.locator("input[name$='-source_code']").filter(has=page.locator("[value='394582007']"))
    row_name = page.locator("input[name$='-source_code'][value='394582007']").get_attribute("name")
    prefix = row_name.rsplit("-", 1)[0]
    del code_input
    page.locator(f"select[name='{prefix}-target_code']").select_option("dermatology")
    shift.look("draft", uris=False)
    page.get_by_label("Note for the reviewer").fill("Dermatology referrals go to the dermatology service.")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_role("heading", name=re.compile("is In review"))).to_be_visible()
    shift.look("submitted", uris=False)
    sign_out(shift)

    sign_in(shift, "steward2")
    expect(page.get_by_text("Map versions in review that you can approve")).to_be_visible()
    shift.look("steward2-home")
    page.get_by_role("link", name=re.compile("SNOMED CT specialty")).first.click()
    expect(page.get_by_role("heading", name=re.compile("is In review"))).to_be_visible()
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("is Approved"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"\d+ open items? would change."))).to_be_visible()
    shift.look("approved-impact", uris=False, tour="11-steward-impact-preview")
    page.get_by_role("link", name="Activate now…").click()
    expect(page.get_by_text(re.compile("open work items? will be re-routed"))).to_be_visible()
    shift.look("activate-confirm", uris=False)
    page.get_by_role("button", name=re.compile("Activate version .* now")).click()
    expect(page.get_by_text(re.compile(r"activated\. \d+ open work items? re-routed\."))).to_be_visible()
    shift.look("activated", uris=False)
    moved = Referral.objects.filter(pk__in=held).exclude(queue="exceptions")
    assert moved.exists(), "no held referral left the exceptions queue"
    sign_out(shift)


def integration(shift: Shift, tmp: Path) -> None:
    """The console (the feed) → the outbox's dead letters (write-backs to an EHR with no address in
    this test) → one opened → retried from the list."""
    page = shift.page
    sign_in(shift, "integration")
    expect(page.get_by_role("heading", name="Integration console")).to_be_visible()
    shift.look("console", tour="12-integration-console")
    page.get_by_role("link", name="Inbox", exact=True).click()
    shift.look("inbox")
    page.get_by_role("link", name="Outbox", exact=True).click()
    page.get_by_label("Status").select_option(label="Dead letter")
    page.get_by_role("button", name="Apply filters").click()  # after the change already sent one: no abort
    expect(page).to_have_url(re.compile("status=dead"))
    expect(page.locator("tbody tr").first).to_contain_text("Dead letter")
    dead = OutboxMessage.objects.filter(status="dead").order_by("-pk").first()
    shift.look("outbox-dead-letters")
    page.locator("tbody tr").first.get_by_role("link").first.click()
    expect(page.get_by_text("This source has no FHIR base URL.").first).to_be_visible()
    shift.look("dead-letter", uris=False)  # the message as sent: its FHIR payload names its code systems
    page.go_back()
    page.locator("tbody tr").first.get_by_role("checkbox").check()
    page.get_by_role("button", name="Retry selected").click()
    expect(page.get_by_text("Queued 1 message for retry.")).to_be_visible()
    shift.look("retried")
    assert OutboxMessage.objects.get(pk=dead.pk).status != "dead"
    sign_out(shift)


def leader(shift: Shift, tmp: Path) -> None:
    """Lands on the scorecard, opens a measure."""
    page = shift.page
    sign_in(shift, "leader")
    expect(page).to_have_url(f"{shift.base}/scorecard/")
    shift.look("scorecard", tour="13-leader-scorecard")
    page.locator("main a[href^='/scorecard/']").filter(has_not_text="CSV").first.click()
    shift.look("measure")
    sign_out(shift)


def compliance(shift: Shift, tmp: Path) -> None:
    """The audit report: the faxed referral's patient found by MRN, the scheduler's opening in the trail."""
    page = shift.page
    fax = Referral.objects.get(entered_by_hand=True, reason__contains="faxed")
    patient = Patient.objects.get(fhir_id=fax.patient_ref.split("/", 1)[1])
    sign_in(shift, "compliance")
    nav(shift, "Audit")
    expect(page.get_by_role("heading", name="Audit report")).to_be_visible()
    page.get_by_label("Patient (MRN, name or reference)").fill(patient.mrn)
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text(re.compile(f"Trail of {re.escape(patient.family)}"))).to_be_visible()
    expect(page.locator("tbody tr", has_text="scheduler").first).to_be_visible()
    shift.look("trail-by-mrn", tour="14-compliance-audit-trail")
    sign_out(shift)


WALKS: list[tuple[str, Callable[[Shift, Path], None]]] = [
    ("scheduler", scheduler),
    ("clinician", clinician),
    ("medical-assistant", medical_assistant),
    ("supervisor", supervisor),
    ("steward", steward),
    ("integration", integration),
    ("leader", leader),
    ("compliance", compliance),
]


def test_every_role_walks_a_whole_shift_on_the_demo_history(page: Page, live_server, settings, tmp_path, monkeypatch):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    settings.DEBUG = True
    started = time.monotonic()
    call_command("seed_demo")
    call_command("demo_start", "--days", "21")
    report = [f"demo history: {time.monotonic() - started:.0f} s"]
    # From now on write-backs are queued, not sent: in-process, a send would hold SQLite's lock while
    # the test reads. (The history's own were tried with no EHR address: the integration admin's dead letters.)
    monkeypatch.setattr("apps.ehr.services.outbox._queue_send", lambda message_id: None)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.set_default_timeout(10_000)  # a missing button fails the walk in 10 s, not 30
    current: list[Shift] = []
    _watch(page, current)
    failed = []
    for role, walk in WALKS:
        shift = Shift(page, live_server.url, role)
        current.append(shift)
        started = time.monotonic()
        try:
            walk(shift, tmp_path)
        except Exception:
            shift.problems.append(traceback.format_exc(limit=-3))
            page.screenshot(path=str(SHOTS / f"{role}-failed.png"))
        outcome = "ok" if not shift.problems else "FAILED"
        report.append(f"{role}: {outcome} ({time.monotonic() - started:.0f} s, {shift.shots} pages)")
        if shift.problems:
            failed.append(f"== {role}\n" + "\n".join(shift.problems))
    print("\n".join(report))
    assert not failed, "\n".join(report) + "\n\n" + "\n\n".join(failed)
