"""A clinician reviews a critical result and an MA closes it, in a real browser (headless
Chromium via Playwright); screenshots of the inbox, a result and the worklist at 1366×768 in /tmp."""

import os
import tempfile

import pytest
from playwright.sync_api import Page, expect

from apps.core.roles import Role
from apps.results.models import ResultItem
from apps.results.workflow import State
from apps.workflow.models import Transition
from tests.plugins.browser import sign_in
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.results import result_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
SHOTS = os.environ.get("CLINOPS_SCREENSHOTS", tempfile.gettempdir())


def test_a_clinician_reviews_a_critical_result_and_an_ma_closes_it(page: Page, live_server):
    page.set_viewport_size({"width": 1366, "height": 768})
    north = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    dr = UserFactory(username="drlee", first_name="Dana", last_name="Lee", role=Role.CLINICIAN, sites=[north])
    UserFactory(username="maria", first_name="Maria", last_name="Diaz", role=Role.MEDICAL_ASSISTANT, sites=[north])
    potassium = [
        {
            "ref": "Observation/k1",
            "code": "http://loinc.org|2823-3",
            "display": "Potassium",
            "value": 6.9,
            "unit": "mmol/L",
            "low": 3.5,
            "high": 5.1,
            "range": "",
            "interpretation": "HH",
            "status": "final",
        }
    ]
    critical = result_make(
        north, criticality="critical", assignee=dr, ordering_clinician=dr, code_display="Potassium", values=potassium
    )
    result_make(north, criticality="abnormal", assignee=dr)
    normals = [result_make(north, assignee=dr) for _ in range(2)]
    result_make(north)  # the unassigned pool

    sign_in(page, live_server.url, "drlee")
    page.get_by_role("link", name="Results inbox").click()
    expect(page.get_by_role("heading", name="Critical 1")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/results-inbox.png", full_page=True)
    for item in normals:
        page.locator(f"#result-{item.pk}").get_by_role("checkbox").check()
    page.get_by_role("button", name="Acknowledge selected normal results").click()
    expect(page.get_by_text("Acknowledged 2 normal results")).to_be_visible()

    page.locator(f"#result-{critical.pk}").get_by_role("link", name="Review").click()
    expect(page.get_by_text("6.9")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/results-item.png", full_page=True)
    page.get_by_label("Notify the patient only").check()
    page.get_by_label("Note for the MA").fill("Call today: stop the potassium supplement, repeat tomorrow.")
    page.get_by_role("button", name="Mark reviewed").click()
    expect(page.get_by_text("Result reviewed.")).to_be_visible()
    assert ResultItem.objects.get(pk=critical.pk).state == State.REVIEWED
    UserFactory(username="drkim", first_name="Kim", last_name="Park", role=Role.CLINICIAN, sites=[north])
    page.goto(f"{live_server.url}/results/coverage/")
    page.get_by_label("Covered by").select_option(label="Kim Park")
    page.get_by_label("From").fill("2030-01-01T08:00")
    page.get_by_label("Until").fill("2030-01-05T18:00")
    page.get_by_role("button", name="Save cover").click()
    expect(page.get_by_text("Cover saved")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/results-coverage.png", full_page=True)

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server.url, "maria")
    page.get_by_role("link", name="Results worklist").click()
    row = page.locator(f"#row-{critical.pk}")
    expect(row).to_contain_text("stop the potassium")
    page.screenshot(path=f"{SHOTS}/results-worklist.png", full_page=True)
    row.get_by_role("button", name="Claim").click()
    expect(row).to_contain_text("You")
    row.locator("a.row-link").click()
    page.get_by_label("How was the patient told?").select_option("phone")
    page.get_by_label("Note").first.fill("Spoke to the patient; she will stop the supplement.")
    page.get_by_role("button", name="Record notification and close").click()
    expect(page.get_by_text("Notification recorded.")).to_be_visible()
    expect(page.get_by_text("State: Closed")).to_be_visible()
    expect(page.locator(".res-timeline")).to_contain_text("Told by phone call")
    page.screenshot(path=f"{SHOTS}/results-item-closed.png", full_page=True)
    critical.refresh_from_db()
    assert (critical.state, critical.notification_method, critical.is_open) == (State.CLOSED, "phone", False)
    names = list(Transition.objects.filter(workflow="result", item_id=critical.pk).values_list("transition", flat=True))
    assert names == ["review", "claim", "notify", "close"]
