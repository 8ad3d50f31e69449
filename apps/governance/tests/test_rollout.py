"""The rollout switch: off → pilot → live per site, service line and workflow; the readiness
checklist item by item (each red with the link that fixes it); live refused while an item is red;
intake's own switch driven by it; every change audited."""

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from apps.core.errors import ApplicationError
from apps.core.roles import Role
from apps.ehr.models import InboxMessage
from apps.governance.models import Duty, Phase, RolloutSwitch, WorkflowOwner
from apps.governance.readiness import readiness_get
from apps.governance.services import rollout_phase_set
from apps.intake.models import IntakeSite
from apps.referrals.models import ReferralRoute
from apps.terminology.models import CodeSystem, UnmappedCode
from apps.workflow.models import SiteCalendar
from tests.plugins.ehr_messages import inbox_make
from tests.plugins.ehr_store import source_make
from tests.plugins.referrals import ReferralFactory

from .history import log

pytestmark = pytest.mark.django_db
KEYS = ["routes", "unmapped", "calendar", "coverage", "owners", "dead_letters", "baseline", "comparison"]


@pytest.fixture
def leader(make_user):
    return make_user(Role.LEADER, first_name="Lee", last_name="Leader")


@pytest.fixture
def ready(own_site, make_user, leader):
    """A referral switch at the own site with every readiness item green."""
    source = source_make("rollout-ehr")
    ReferralRoute.objects.create(source=source, specialty="", site=own_site)
    SiteCalendar.objects.create(site=own_site)
    make_user(Role.SCHEDULER)
    for duty in Duty.values:
        WorkflowOwner.objects.create(site=own_site, workflow="referral", duty=duty, user=leader, set_by=leader)
    now = timezone.now()
    before = ReferralFactory(site=own_site, opened_at=now - timedelta(days=60))
    log(before, "receive", "received", now - timedelta(days=60), source="ehr")
    during = ReferralFactory(site=own_site, opened_at=now - timedelta(days=5), canonical_specialty="394579002")
    log(during, "receive", "received", now - timedelta(days=5), source="ehr")
    baseline_day = timezone.localtime(now - timedelta(days=60), own_site.tzinfo).date()
    switch = RolloutSwitch.objects.create(
        site=own_site, workflow="referral", phase=Phase.PILOT, pilot_started_at=now - timedelta(days=20),
        baseline_start=baseline_day - timedelta(days=3), baseline_end=baseline_day + timedelta(days=3),
    )  # fmt: skip
    return {"switch": switch, "source": source}


def red(switch) -> list[str]:
    return [c.key for c in readiness_get(switch) if not c.ok]


def test_everything_green_lets_it_go_live(client, ready, leader, own_site):
    assert [c.key for c in readiness_get(ready["switch"])] == KEYS
    assert red(ready["switch"]) == []
    client.force_login(leader)
    response = client.post(reverse("governance:rollout_phase", args=[own_site.code, "referral"]), {"phase": "live"})
    assert response.status_code == 302
    switch = RolloutSwitch.objects.get(pk=ready["switch"].pk)
    assert switch.phase == Phase.LIVE and switch.changed_by == leader
    assert "Referrals at Own Clinic is now: Live." in client.get(response.url).content.decode()
    entry = LogEntry.objects.get_for_object(switch).latest("timestamp")  # the change audit, with who
    assert entry.actor == leader and entry.changes_dict["phase"] == ["pilot", "live"]
    entry = LogEntry.objects.get_for_object(switch).latest("timestamp")
    assert entry.actor == leader and entry.changes_dict["phase"] == ["pilot", "live"]


def test_a_specialty_seen_with_no_route_is_red(ready, own_site):
    ReferralRoute.objects.filter(specialty="").update(specialty="408443003")  # only another specialty routed
    assert red(ready["switch"]) == ["routes"]
    check = next(c for c in readiness_get(ready["switch"]) if c.key == "routes")
    assert "Cardiology (394579002)" in check.detail and check.fix_url == reverse("admin:referrals_referralroute_add")


def test_an_open_unmapped_code_of_the_sites_feeds_is_red(ready):
    theirs = CodeSystem.objects.create(
        url="http://elsewhere.example.org/codes", name="elsewhere", title="Elsewhere", source=source_make("elsewhere")
    )
    ours = CodeSystem.objects.create(
        url="http://ours.example.org/codes", name="ours", title="Ours", source=ready["source"]
    )
    UnmappedCode.objects.create(system=theirs.url, code="X1")  # another EHR's code: not this site's
    assert red(ready["switch"]) == []
    code = UnmappedCode.objects.create(system=ours.url, code="ZZ")
    assert red(ready["switch"]) == ["unmapped"]
    code.resolved_at = timezone.now()
    code.save()
    assert red(ready["switch"]) == []
    UnmappedCode.objects.create(system="http://unknown.example.org/codes", code="Q")  # nobody's system yet
    assert red(ready["switch"]) == ["unmapped"]


def test_no_opening_hours_is_red(ready, own_site):
    SiteCalendar.objects.filter(site=own_site).delete()
    assert red(ready["switch"]) == ["calendar"]


def test_nobody_to_work_the_list_is_red(ready, own_site):
    own_site.members.filter(groups__name=Role.SCHEDULER).delete()
    assert red(ready["switch"]) == ["coverage"]


def test_a_duty_without_owner_is_red_and_links_to_the_owners_page(ready, own_site):
    WorkflowOwner.objects.filter(duty=Duty.KPI).delete()
    assert red(ready["switch"]) == ["owners"]
    check = next(c for c in readiness_get(ready["switch"]) if c.key == "owners")
    assert check.detail == "No owner named for: KPI review."
    assert check.fix_url == reverse("governance:owners", args=[own_site.code]) + "?workflow=referral"


def test_an_open_dead_letter_of_the_sites_source_is_red(ready):
    inbox_make(source=source_make("somebody-elses-ehr"), status=InboxMessage.Status.DEAD)
    assert red(ready["switch"]) == []  # another source's dead letter is not this site's
    inbox_make(source=ready["source"], status=InboxMessage.Status.DEAD)
    assert red(ready["switch"]) == ["dead_letters"]


def test_no_baseline_or_an_empty_one_is_red(ready):
    switch = ready["switch"]
    switch.baseline_start = switch.baseline_end = timezone.localdate() - timedelta(days=200)
    assert red(switch) == ["baseline", "comparison"]
    switch.baseline_start = switch.baseline_end = None
    assert red(switch) == ["baseline", "comparison"]


def test_a_pilot_too_young_to_compare_is_red(ready):
    switch = ready["switch"]
    switch.pilot_started_at = timezone.now() - timedelta(days=3)
    assert red(switch) == ["comparison"]
    switch.pilot_started_at = timezone.now() - timedelta(days=20)
    check = next(c for c in readiness_get(switch) if c.key == "comparison")
    assert check.ok and "compare=period" in check.fix_url and "base_start=" in check.fix_url


def test_live_is_refused_while_an_item_is_red_and_the_page_shows_the_fix(client, ready, leader, own_site):
    SiteCalendar.objects.filter(site=own_site).delete()
    with pytest.raises(ApplicationError) as refused:
        rollout_phase_set(site=own_site, service_line=None, workflow="referral", phase="live", by=leader)
    assert refused.value.code == "not_ready" and refused.value.extra["red"] == ["calendar"]
    client.force_login(leader)
    detail = reverse("governance:rollout_detail", args=[own_site.code, "referral"])
    response = client.post(reverse("governance:rollout_phase", args=[own_site.code, "referral"]), {"phase": "live"})
    assert response.status_code == 302 and response.url == detail
    page = client.get(detail).content.decode()
    assert "It cannot go live yet: opening hours are set." in page
    assert reverse("admin:workflow_sitecalendar_add") in page and "Set the site&#x27;s opening hours" in page
    ready["switch"].refresh_from_db()
    assert ready["switch"].phase == Phase.PILOT
    assert (
        client.post(reverse("governance:rollout_phase", args=[own_site.code, "referral"]), {"phase": "on"}).status_code
        == 400
    )
    assert client.get(reverse("governance:rollout_detail", args=[own_site.code, "nope"])).status_code == 404


def test_the_intake_switch_follows_the_phase(own_site, leader):
    with pytest.raises(ApplicationError) as refused:
        rollout_phase_set(site=own_site, service_line=None, workflow="intake", phase="pilot", by=leader)
    assert refused.value.code == "intake_not_set_up"
    intake = IntakeSite.objects.create(site=own_site, source=source_make("intake-ehr"), enabled=False)
    switch = rollout_phase_set(site=own_site, service_line=None, workflow="intake", phase="pilot", by=leader)
    intake.refresh_from_db()
    assert intake.enabled and switch.pilot_started_at is not None
    rollout_phase_set(site=own_site, service_line=None, workflow="intake", phase="off", by=leader)
    intake.refresh_from_db()
    assert not intake.enabled


def test_a_leader_captures_a_baseline_and_bad_periods_are_refused(client, leader, own_site):
    client.force_login(leader)
    url = reverse("governance:rollout_baseline", args=[own_site.code, "results".rstrip("s")])
    today = timezone.localtime(timezone.now(), own_site.tzinfo).date()  # the site's (New York) date, not UTC's
    response = client.post(
        url, {"start": (today - timedelta(days=30)).isoformat(), "end": (today - timedelta(days=1)).isoformat()}
    )
    assert response.status_code == 302
    switch = RolloutSwitch.objects.get(site=own_site, workflow="result")
    assert switch.baseline_end == today - timedelta(days=1) and switch.phase == Phase.OFF
    client.post(url, {"start": today.isoformat(), "end": today.isoformat()})  # not over yet
    page = client.get(reverse("governance:rollout_detail", args=[own_site.code, "result"])).content.decode()
    assert "The baseline must be a period that is over" in page


def test_another_sites_switch_is_not_found_and_workers_cannot_switch(client, make_user, other_site, own_site):
    client.force_login(make_user(Role.LEADER))
    assert client.get(reverse("governance:rollout_detail", args=[other_site.code, "referral"])).status_code == 404
    client.force_login(make_user(Role.SCHEDULER))
    response = client.post(reverse("governance:rollout_phase", args=[own_site.code, "referral"]), {"phase": "pilot"})
    assert response.status_code == 403
