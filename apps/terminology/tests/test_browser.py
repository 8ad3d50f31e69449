"""A steward drafts a mapping change in the admin; another steward approves it (headless Chromium)."""

import os
import re

import pytest
from playwright.sync_api import Page, expect

from apps.terminology.models import ConceptMapVersion
from apps.terminology.translation import translate
from apps.terminology.workflow import State
from tests.plugins.core import PASSWORD
from tests.plugins.terminology import LOCAL, PRIORITY, activated, priority_map, steward

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop


def sign_in(page: Page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Terminology")).to_be_visible()


def test_a_steward_drafts_a_change_and_another_approves_it(page: Page, live_server, tmp_path):
    base = live_server.url
    concept_map = priority_map()
    activated(concept_map, author=steward("carol"), approver=steward("dan"))
    steward("alice", first_name="Alice", last_name="Author")
    steward("bob", first_name="Bob", last_name="Reviewer")

    # Alice starts a draft from the map's page and adds a row for "A".
    sign_in(page, base, "alice")
    page.get_by_role("link", name="Terminology").click()
    page.get_by_role("link", name="ehr-priority").click()
    page.get_by_label("What will change, and why").fill("ASAP orders get their own priority")
    page.get_by_role("button", name="Start a draft from version 1").click()
    expect(page.get_by_role("heading", name=re.compile("Version 2 of .* is Draft"))).to_be_visible()
    page.locator('input[name="elements-3-source_code"]').fill("A")
    page.locator('input[name="elements-3-source_display"]').fill("As soon as possible")
    page.locator('select[name="elements-3-target_code"]').select_option("asap")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Version 2 saved.")).to_be_visible()
    page.screenshot(path=str(tmp_path / "version-draft-author.png"), full_page=False)
    diff = page.locator("table.term-diff")
    expect(diff.get_by_role("row", name=re.compile("Added A"))).to_contain_text("asap ASAP (equivalent)")

    # She submits it; the page says she cannot approve her own change, and offers no button.
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_text("Version 2 saved and submitted for review.")).to_be_visible()
    expect(page.get_by_role("note")).to_contain_text("You authored this version; another steward must approve it")
    expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(0)
    page.screenshot(path=str(tmp_path / "version-in-review-author.png"), full_page=False)

    # Bob reviews the diff, approves and activates it.
    sign_in(page, base, "bob")
    draft = ConceptMapVersion.objects.get(number=2)
    page.goto(f"{base}/admin/terminology/conceptmapversion/{draft.pk}/change/")
    expect(page.locator("table.term-diff")).to_contain_text("Added")
    page.get_by_label("Approval note").fill("Matches the lab's priority list")
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("is Approved"))).to_be_visible()
    page.screenshot(path=str(tmp_path / "version-approved-reviewer.png"), full_page=False)
    page.get_by_role("link", name="Activate now…").click()
    page.get_by_role("button", name="Activate version 2 now").click()
    expect(page.get_by_role("heading", name=re.compile("is Active"))).to_be_visible()
    expect(page.locator(".term-history")).to_contain_text("Approved by Bob Reviewer: Matches the lab's priority list")

    draft.refresh_from_db()
    assert (draft.state, draft.author.username, draft.approver.username) == (State.ACTIVE, "alice", "bob")
    assert translate(LOCAL, "A", PRIORITY).target_code == "asap"
