"""An integration admin reads the HL7 v2 messages of the morning and converts a failed one again
after the cause is fixed (headless Chromium, 1366×768)."""

import os
import re
from pathlib import Path
from unittest import mock

import pytest
from playwright.sync_api import Page, expect

from apps.core.roles import Role
from apps.ehr.models import Hl7Message
from apps.ehr.services import v2_inbox
from apps.ehr.services.v2_inbox import hl7_receive
from tests.plugins.browser import csp_violations, sign_in
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.ehr_messages import source_make

from .v2_corpus import configure, malformed, raw

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
SHOTS = Path(os.environ.get("CLINOPS_SCREENSHOTS", "/tmp/shots")) / "hl7"  # noqa: S108 - test artefacts


def test_integration_admin_reads_v2_messages_and_converts_a_failed_one_again(page: Page, live_server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    site = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    UserFactory(username="ines", first_name="Ines", last_name="Okafor", role=Role.INTEGRATION_ADMIN, sites=[site])
    source = configure(source_make("epic-north"))
    for name in ("adt_a01", "oru_r01"):
        hl7_receive(source=source, raw=raw(name), channel=Hl7Message.Channel.MLLP, peer="10.1.2.3")
    hl7_receive(source=source, raw=malformed("unknown_event"), channel=Hl7Message.Channel.HTTP)
    with mock.patch.dict(v2_inbox.__dict__, {"convert": mock.Mock(side_effect=ValueError("mapping bug"))}):
        hl7_receive(source=source, raw=raw("siu_s12"), channel=Hl7Message.Channel.MLLP, peer="10.1.2.3")
    violations = csp_violations(page)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, live_server.url, "ines")

    page.goto(f"{live_server.url}/integrations/")
    page.get_by_role("navigation", name="Integration console").get_by_role("link", name="HL7 v2").click()
    expect(page.get_by_role("heading", name="HL7 v2 messages")).to_be_visible()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(4)
    page.screenshot(path=str(SHOTS / "hl7_list.png"), full_page=True)

    page.get_by_role("link", name="ORU0001").click()
    expect(page.get_by_role("heading", name=re.compile("ORU.R01 ORU0001"))).to_be_visible()
    expect(page.get_by_text("Observation/F5001-1")).to_be_visible()
    page.screenshot(path=str(SHOTS / "hl7_detail_oru.png"), full_page=True)

    page.go_back()
    page.get_by_role("link", name="SIU0001").click()
    expect(page.get_by_text("Stored but not converted")).to_be_visible()
    page.get_by_role("button", name="Convert again").click()
    expect(page.get_by_role("status").get_by_text("Converted: its FHIR resources are queued")).to_be_visible()
    expect(page.get_by_role("link", name="Appointment/APT1001")).to_be_visible()
    expect(page.get_by_role("button", name="Convert again")).to_have_count(0)
    page.screenshot(path=str(SHOTS / "hl7_detail_converted.png"), full_page=True)
    page.reload()  # post-redirect-get: a reload resubmits nothing
    expect(page.get_by_role("heading", name=re.compile("SIU.S12 SIU0001"))).to_be_visible()

    page.get_by_role("link", name="HL7 v2").first.click()
    page.get_by_label("Status").select_option("rejected")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("is not taken here")
    assert not errors and not violations


def test_integration_admin_sends_an_application_ack_again_once_the_sender_takes_it(page: Page, live_server):
    from apps.ehr.models import Hl7AppAck

    from .test_v2_app_ack import Peer, enhanced

    site = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    UserFactory(username="ines", first_name="Ines", last_name="Okafor", role=Role.INTEGRATION_ADMIN, sites=[site])
    peer = Peer(answer="CR")  # the interface engine refuses it at first
    try:
        source = configure(source_make("epic-north"))
        source.mllp_ack_host, source.mllp_ack_port = "127.0.0.1", peer.port
        source.save()
        hl7_receive(source=source, raw=enhanced(raw("adt_a01"), "AL", "AL"), channel=Hl7Message.Channel.MLLP)
        assert Hl7AppAck.objects.get().status == "dead"
        violations = csp_violations(page)
        page.set_viewport_size({"width": 1366, "height": 768})
        sign_in(page, live_server.url, "ines")
        page.goto(f"{live_server.url}/integrations/hl7v2/")
        page.get_by_role("link", name="ADT0001").click()
        panel = page.get_by_role("region", name="Application acknowledgment to the sender")
        expect(panel).to_contain_text("gave up")
        expect(panel).to_contain_text("refused it (CR)")
        page.screenshot(path=str(SHOTS / "hl7_app_ack_dead.png"), full_page=True)
        peer.answer = "CA"  # the engine's channel is fixed
        panel.get_by_role("button", name="Send it again now").click()
        expect(page.get_by_role("status").get_by_text("back in line")).to_be_visible()
        expect(panel).to_contain_text("Sent")
        expect(panel).to_contain_text("the sender answered CA")
        expect(panel.get_by_role("button", name="Send it again now")).to_have_count(0)
        page.screenshot(path=str(SHOTS / "hl7_app_ack_sent.png"), full_page=True)
        assert len(peer.received) == 2 and not violations
    finally:
        peer.close()
