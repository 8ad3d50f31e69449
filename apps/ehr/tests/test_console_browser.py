"""An integration admin finds a dead letter, reads it and retries it (headless Chromium)."""

import os
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.core.roles import Role
from apps.ehr.models import InboxMessage, OutboxMessage
from tests.plugins.core import PASSWORD, SiteFactory, UserFactory
from tests.plugins.ehr_messages import inbox_make, outbox_make, patient_resource, source_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
Status = InboxMessage.Status
# Screenshots at 1366×768 for a person to look at; set CLINOPS_SCREENSHOTS to keep them elsewhere.
SHOTS = os.environ.get("CLINOPS_SCREENSHOTS", "/tmp")  # noqa: S108 - test artefacts, not secrets


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def a_morning_of_traffic() -> InboxMessage:
    """Two sources, some processed, a failure, two dead letters; returns the fixable one."""
    feed, lab = source_make("epic-north"), source_make("lab-south")
    now = timezone.now()
    for i in range(6):
        event_at = now - timedelta(minutes=40 - i * 5)
        inbox_make(
            source=feed,
            status=Status.PROCESSED,
            received_at=event_at + timedelta(seconds=1),
            ehr_last_updated=event_at,
            processed_at=event_at + timedelta(seconds=2 + i),
        )
    inbox_make(source=lab, status=Status.FAILED, received_at=now - timedelta(minutes=12))
    inbox_make(
        source=lab,
        status=Status.DEAD,
        resource={"resourceType": "Observation", "id": "obs-17", "status": "final", "valueQuantity": {"value": "x"}},
        received_at=now - timedelta(minutes=9),
    )
    fixable = inbox_make(
        source=feed,
        status=Status.DEAD,
        resource=patient_resource("pat-204", family="Testpatient"),
        received_at=now - timedelta(minutes=3),
        error_code="handler",
        last_error="HandlerError: referral routing table missing for site north (fixed since)",
    )
    outbox_make(source=feed, status=OutboxMessage.Status.SENT)
    outbox_make(source=feed, status=OutboxMessage.Status.DEAD)
    return fixable


def test_integration_admin_filters_dead_letters_opens_one_and_retries_it(page: Page, live_server):
    site = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    UserFactory(username="ines", first_name="Ines", last_name="Okafor", role=Role.INTEGRATION_ADMIN, sites=[site])
    fixable = a_morning_of_traffic()
    base = live_server.url
    sign_in(page, base, "ines")

    page.get_by_role("link", name="Integration").click()
    expect(page.get_by_role("heading", name="Integration console")).to_be_visible()
    expect(page.get_by_role("heading", name="epic-north")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/console_overview.png", full_page=True)

    page.get_by_role("navigation", name="Integration console").get_by_role("link", name="Inbox").click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(9)

    # Choosing a status swaps the table in place (htmx) and puts the filter in the address.
    page.get_by_label("Status").select_option("dead")
    expect(page).to_have_url(re.compile(r"/integrations/inbox/\?status=dead"))
    expect(rows).to_have_count(2)
    expect(rows.first.get_by_text("Dead letter")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/console_inbox_dead.png")

    # The bulk replay asks first and says how many.
    page.get_by_role("button", name="Replay all dead letters matching this filter…").click()
    expect(page.get_by_role("heading", name="Replay 2 dead letters?")).to_be_focused()
    page.screenshot(path=f"{SHOTS}/console_replay_confirm.png", full_page=True)
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", name="Replay 2 dead letters?")).to_have_count(0)

    page.get_by_role("link", name="Patient/pat-204").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Patient.pat-204"))).to_be_visible()
    expect(page.get_by_text("referral routing table missing")).to_be_visible()
    expect(page.locator("pre.payload")).to_contain_text('"family": "Testpatient"')
    page.screenshot(path=f"{SHOTS}/console_detail_dead.png")

    # Keyboard only: focus the button and press Enter.
    page.get_by_role("button", name="Retry this message").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").get_by_text("Queued 1 message for retry.")).to_be_visible()
    # Celery runs in-process here, so the retried message has been processed already.
    expect(page.locator("h1 .state-badge")).to_have_text("Processed")
    expect(page.get_by_role("button", name="Retry this message")).to_have_count(0)
    page.screenshot(path=f"{SHOTS}/console_detail_retried.png")
    fixable.refresh_from_db()
    assert (fixable.status, fixable.attempts, fixable.error_code) == (Status.PROCESSED, 1, "")

    # Back in the list (without JavaScript's help: a plain link), one dead letter is left.
    page.goto(f"{base}/integrations/inbox/?status=dead")
    expect(rows).to_have_count(1)

    page.get_by_role("navigation", name="Integration console").get_by_role("link", name="Outbox").click()
    expect(rows).to_have_count(2)
    expect(rows.first.get_by_text("Dead letter")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/console_outbox.png")
