"""The README tour, taken from the running app: the demo history loaded by demo_start, each
demo user signed in on the page the tour shows. Screenshots (1366×768) go to /tmp, or to
docs/tour/ with CLINOPS_UPDATE_DOCS=1 (how the README's images are made)."""

import os
import tempfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from playwright.sync_api import Page, expect

from apps.demo.seeds.people import DEMO_PASSWORD
from apps.referrals.models import Referral

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
DOCS = Path(django_settings.BASE_DIR) / "docs" / "tour"
SHOTS = DOCS if os.environ.get("CLINOPS_UPDATE_DOCS") == "1" else Path(tempfile.gettempdir()) / "clinops-tour"


def sign_in(page: Page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_the_readme_tour_on_the_demo_history(page: Page, live_server, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    call_command("demo_start", "--days", "21")
    base = live_server.url

    sign_in(page, base, "scheduler")
    page.goto(f"{base}/referrals/")
    north_open = Referral.objects.filter(site__code="north", is_open=True).exclude(queue="exceptions")
    first = north_open.order_by("pk").first()
    expect(page.locator("#worklist-table tbody tr").first).to_be_visible()
    shot(page, "1-scheduler-worklist")
    page.goto(f"{base}/referrals/{first.pk}/")
    expect(page.get_by_text(first.reason).first).to_be_visible()
    shot(page, "2-referral")

    sign_in(page, base, "supervisor")
    page.goto(f"{base}/referrals/?queue=exceptions")
    expect(page.get_by_text("Dermatology").first).to_be_visible()
    shot(page, "3-supervisor-exceptions")

    sign_in(page, base, "integration")
    page.goto(f"{base}/integrations/")
    expect(page.get_by_text("demo-ehr").first).to_be_visible()
    shot(page, "4-integration-console")

    sign_in(page, base, "steward")
    page.goto(f"{base}/admin/terminology/conceptmap/")
    expect(page.get_by_text("North EHR priority").first).to_be_visible()
    shot(page, "5-steward-maps")
