"""Issue 14's walls, walked past in a real browser (headless Chromium via Playwright, 1366×768):
the scheduler after "Start scheduling", the front desk on any day (check-in, no-show), the
clinician's cover, the supervisor's bulk move, and a refused result action answered with a redirect.
Each fails on a console error, a CSP violation or a 4xx/5xx the user did not cause; screenshots
in $CLINOPS_SCREENSHOTS (default /tmp/shots/walls)."""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.core.roles import Role
from apps.ehr.models import OutboxMessage
from apps.intake.checklist import checklist_defaults_ensure
from apps.intake.models import Intake
from apps.intake.selectors import site_today
from apps.intake.workflow import State as IntakeState
from apps.referrals.models import Referral
from apps.referrals.workflow import State as ReferralState
from apps.results.models import ResultItem
from apps.results.workflow import FollowUp
from apps.results.workflow import State as ResultState
from tests.plugins.browser import sign_in
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.intake import intake_make
from tests.plugins.referrals import ReferralFactory
from tests.plugins.results import result_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
SHOTS = Path(os.environ.get("CLINOPS_SCREENSHOTS", "/tmp/shots/walls"))  # noqa: S108 - screenshots to look at


@pytest.fixture
def north(transactional_db):
    checklist_defaults_ensure()  # a transactional test database has lost migration data
    return SiteFactory(code="north", name="North Clinic", timezone="America/New_York")


@pytest.fixture
def watched(page: Page):
    """Console errors, page errors and 4xx/5xx answers seen while the test runs (asserted empty)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    seen: list[str] = []
    page.on(
        "console",
        lambda msg: (
            seen.append(f"console {msg.type}: {msg.text} at {msg.location['url']}") if msg.type == "error" else None
        ),
    )
    page.on("pageerror", lambda exc: seen.append(f"page error: {exc}"))
    page.on("response", lambda r: seen.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    yield page
    assert seen == []


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_the_scheduler_is_told_the_next_step_after_start_scheduling(watched: Page, live_server, north):
    page = watched
    UserFactory(username="sam", first_name="Sam", last_name="Rivera", role=Role.SCHEDULER, sites=[north])
    referral = ReferralFactory(site=north, state=ReferralState.ACCEPTED)
    sign_in(page, live_server.url, "sam")
    page.goto(f"{live_server.url}/referrals/{referral.pk}/")
    expect(page.locator("[data-next-step]")).to_contain_text("Start scheduling")
    page.get_by_role("button", name="Start scheduling").click()
    expect(page.locator("#flash")).to_contain_text("Ready to schedule.")
    expect(page.locator("[data-next-step]")).to_contain_text(
        "Find a free slot and book it here after the patient agrees, or book the appointment in the EHR"
    )
    assert Referral.objects.get(pk=referral.pk).state == ReferralState.SCHEDULING
    shot(page, "scheduler-after-start-scheduling")


def test_the_front_desk_sees_any_day_checks_in_and_marks_a_no_show(watched: Page, live_server, north, monkeypatch):
    page = watched
    # The outbox rows are what is asserted; sending them is the ehr app's (tested there). In-process, a
    # send to the absent EHR would hold SQLite's lock while this test reads.
    monkeypatch.setattr("apps.ehr.services.outbox._queue_send", lambda message_id: None)
    UserFactory(username="maya", first_name="Maya", last_name="Chen", role=Role.MEDICAL_ASSISTANT, sites=[north])
    arriving, missing = intake_make(north, days=0, hour=23), intake_make(north, days=0, hour=22)
    later = intake_make(north, days=4, hour=10)
    today = site_today(north)
    sign_in(page, live_server.url, "maya")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Intake").click()
    expect(page.locator("#intake-day-title")).to_contain_text("North Clinic — today")

    page.get_by_role("textbox", name="Day").fill((today + timedelta(days=4)).isoformat())
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.locator(f"#intake-{later.pk}")).to_be_visible()
    expect(page.locator(f"#intake-{later.pk}").get_by_role("button", name="Check in")).to_have_count(0)
    shot(page, "front-desk-day-in-four-days")
    page.get_by_role("link", name="‹ Previous day").click()
    expect(page.locator("#intake-day-title")).to_contain_text(f"{(today + timedelta(days=3)).day}")
    expect(page).to_have_url(re.compile(rf"day={(today + timedelta(days=3)).isoformat()}"))
    expect(page.get_by_role("textbox", name="Day")).to_have_value((today + timedelta(days=3)).isoformat())
    page.get_by_role("link", name="Today").click()
    expect(page.locator("#intake-day-title")).to_contain_text("North Clinic — today")

    page.locator(f"#intake-{arriving.pk}").get_by_role("button", name="Check in").click()
    expect(page.locator(f"#intake-{arriving.pk} .intake-state")).to_contain_text("Checked in")
    page.locator(f"#intake-{missing.pk}").get_by_role("button", name="No-show").click()
    expect(page.locator(f"#intake-{missing.pk} .intake-state")).to_contain_text("No-show")
    shot(page, "front-desk-today-after-check-in-and-no-show")
    assert Intake.objects.get(pk=arriving.pk).state == IntakeState.CHECKED_IN
    assert Intake.objects.get(pk=missing.pk).state == IntakeState.NO_SHOW
    told = dict(OutboxMessage.objects.filter(resource_type="Appointment").values_list("resource_id", "changes"))
    assert told == {
        arriving.appointment.fhir_id: {"status": "arrived"},
        missing.appointment.fhir_id: {"status": "noshow"},
    }

    page.locator(f"#intake-{missing.pk}").get_by_role("link", name="Open").click()
    expect(page.locator("[data-next-step]")).to_contain_text("Closed: the patient did not come.")
    shot(page, "front-desk-no-show-item")


def test_the_clinician_names_a_colleague_of_the_same_site_to_cover(watched: Page, live_server, north):
    page = watched
    UserFactory(username="drlee", first_name="Dana", last_name="Lee", role=Role.CLINICIAN, sites=[north])
    UserFactory(username="drhale", first_name="Marcus", last_name="Hale", role=Role.CLINICIAN, sites=[north])
    sign_in(page, live_server.url, "drlee")
    page.goto(f"{live_server.url}/results/coverage/")
    page.get_by_label("Covered by").select_option(label="Marcus Hale")
    start = timezone.localtime(timezone.now()) + timedelta(days=1)
    page.get_by_label("From").fill(start.strftime("%Y-%m-%dT09:00"))
    page.get_by_label("Until").fill((start + timedelta(days=3)).strftime("%Y-%m-%dT17:00"))
    page.get_by_role("button", name="Save cover").click()
    expect(page.get_by_text("Cover saved")).to_be_visible()
    expect(page.get_by_role("cell", name="Marcus Hale")).to_be_visible()
    shot(page, "clinician-cover")


def test_the_supervisors_bulk_move_keeps_the_clock_and_refuses_an_unfit_queue(watched: Page, live_server, north):
    page = watched
    UserFactory(username="priya", first_name="Priya", last_name="N", role=Role.SUPERVISOR, sites=[north])
    overdue = ReferralFactory(site=north, state=ReferralState.TRIAGE)
    due = timezone.now() - timedelta(days=78)
    Referral.objects.filter(pk=overdue.pk).update(due_at=due, warn_at=due)
    held = ReferralFactory(
        site=north, queue="exceptions", exception_reason="394582007 is not a known code of http://snomed.info/sct."
    )
    sign_in(page, live_server.url, "priya")
    page.goto(f"{live_server.url}/referrals/")
    row = page.locator(f"#row-{overdue.pk}")
    expect(row).to_contain_text("Overdue by 78 d")
    row.get_by_role("checkbox").check()
    # A queue that does not fit the listed items' states is not offered (the service refuses it too:
    # apps/workflow/tests); the supervisor queue is.
    offered = page.locator("#bulk-queue option").all_inner_texts()
    assert "Scheduled" not in offered and "Supervisor" in offered, offered
    shot(page, "supervisor-fitting-queues-only")
    page.locator("#bulk-queue").select_option(label="Supervisor")
    page.get_by_role("button", name="Move").click()
    expect(page.get_by_text("1 referral moved to Supervisor.")).to_be_visible()
    expect(page.locator(f"#row-{overdue.pk}")).to_contain_text("Overdue by 78 d")
    assert Referral.objects.get(pk=overdue.pk).due_at == due
    shot(page, "supervisor-moved-still-overdue")

    page.goto(f"{live_server.url}/referrals/{held.pk}/")
    expect(page.locator(".flag-exc")).to_contain_text("is not a known code of")
    expect(page.locator(".flag-exc")).to_contain_text("is not a known code of SNOMED CT.")
    expect(page.locator("[data-next-step]")).to_contain_text("terminology steward")
    shot(page, "supervisor-held-referral")


def test_a_refused_result_action_redirects_so_back_and_reload_never_resubmit(watched: Page, live_server, north):
    page = watched
    UserFactory(username="maria", first_name="Maria", last_name="Diaz", role=Role.MEDICAL_ASSISTANT, sites=[north])
    item = result_make(north, state=ResultState.PATIENT_NOTIFIED, follow_up=FollowUp.APPOINTMENT)
    sign_in(page, live_server.url, "maria")
    page.goto(f"{live_server.url}/results/{item.pk}/")
    expect(page.locator("[data-next-step]")).to_contain_text("books the repeat test or appointment")
    page.get_by_label("What was booked, and when").fill("Booked for the 21st")
    ResultItem.objects.filter(pk=item.pk).update(state=ResultState.CLOSED, is_open=False)  # someone else closed it
    page.get_by_role("button", name="Follow-up booked").click()
    expect(page).to_have_url(f"{live_server.url}/results/{item.pk}/")
    expect(page.get_by_text("This result is closed: “Follow-up booked” is not possible now.")).to_be_visible()
    expect(page.locator("[data-next-step]")).to_contain_text("Closed: nothing left to do.")
    shot(page, "results-refused-action-redirected")
    page.reload()  # a GET: no resubmission, no 405
    expect(page.get_by_role("heading", name=re.compile("Glucose"))).to_be_visible()
    expect(page.get_by_text("is not possible now")).to_have_count(0)  # the message was shown once
    assert ResultItem.objects.get(pk=item.pk).state == ResultState.CLOSED
