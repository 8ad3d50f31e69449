"""Friction reports: the control on every staff page, the queue routed to the workflow's owners at
the site, statuses and replies, who sees what, the notifications, and the two KPIs."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.core.roles import Role
from apps.governance.models import FrictionReport, FrictionStatus, WorkflowOwner
from apps.governance.services import friction_report, friction_respond
from apps.kpis.definitions import kpi_get
from apps.kpis.scope import Scope
from apps.kpis.selectors import kpi_result_get
from apps.notifications.models import Notification
from tests.plugins.referrals import ReferralFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_user, own_site, other_site):
    scheduler = make_user(Role.SCHEDULER, first_name="Sam", last_name="Scheduler")
    owner = make_user(Role.MEDICAL_ASSISTANT, first_name="Olive", last_name="Owner")
    supervisor = make_user(Role.SUPERVISOR)
    elsewhere = make_user(Role.SUPERVISOR, sites=[other_site])
    WorkflowOwner.objects.create(site=own_site, workflow="referral", duty="system", user=owner, set_by=supervisor)
    return {"scheduler": scheduler, "owner": owner, "supervisor": supervisor, "elsewhere": elsewhere}


def test_every_staff_page_has_the_control_with_the_page_and_item_but_no_patient(client, people, own_site):
    referral = ReferralFactory(site=own_site, patient__family="Rivera")
    client.force_login(people["scheduler"])
    page = client.get(reverse("referrals:detail", args=[referral.pk])).content.decode()
    control = page[page.index('class="friction-bar"') :]
    assert "Report friction" in control
    assert f'name="page" value="/referrals/{referral.pk}/"' in control
    assert f'name="item" value="{referral.pk}"' in control
    # On an item's page the report is about the item's workflow: sent with it, not a choice offered.
    assert '<input type="hidden" name="workflow" value="referral">' in control
    assert 'id="friction-workflow"' not in control and "About this item (Referrals)" in control
    assert "Rivera" not in control
    home = client.get(reverse("workflow:home")).content.decode()
    assert "Report friction" in home and 'name="item"' not in home
    assert '<option value="referral" selected>' in home  # elsewhere the user's likeliest workflow, chosen


def test_a_report_goes_to_the_owners_and_back_to_the_page(client, people, own_site):
    referral = ReferralFactory(site=own_site)
    client.force_login(people["scheduler"])
    page = f"/referrals/{referral.pk}/"
    response = client.post(
        reverse("governance:friction_new"),
        {
            "note": "The slot list never shows Fridays",
            "severity": "high",
            "workflow": "referral",
            "page": page + "?q=Doe",
            "item": referral.pk,
        },
    )
    assert response.status_code == 302 and response.url == page + "?q=Doe"
    report = FrictionReport.objects.get()
    assert (report.site, report.workflow, report.item_id, report.page) == (own_site, "referral", referral.pk, page)
    assert report.status == FrictionStatus.NEW and report.severity == "high"
    told = Notification.objects.get(kind="friction")
    assert told.user == people["owner"] and told.link == reverse("governance:friction_detail", args=[report.pk])
    assert "slot" not in told.title  # the note is not copied into notifications
    assert not Notification.objects.filter(user=people["supervisor"]).exists()
    followed = client.get(response.url).content.decode()
    assert "Thank you: your report went to its owners." in followed


def test_with_no_owner_named_the_sites_supervisors_are_told(people, own_site):
    report = friction_report(by=people["scheduler"], workflow="result", note="Too many clicks")
    assert report.site == own_site
    assert set(Notification.objects.filter(kind="friction").values_list("user", flat=True)) == {people["supervisor"].pk}


def test_bad_reports_are_refused_with_a_reason(client, people, other_site):
    elsewhere = ReferralFactory(site=other_site)
    client.force_login(people["scheduler"])
    for data, reason in [
        ({"note": "", "workflow": "referral"}, "This field is required"),
        ({"note": "x", "workflow": "nonsense"}, "Select a valid choice"),
        ({"note": "x", "workflow": "referral", "item": elsewhere.pk}, "not one of your sites"),
        ({"note": "x", "workflow": "referral", "site": other_site.pk}, "Choose one of your sites"),
    ]:
        response = client.post(reverse("governance:friction_new"), {**data, "page": "https://evil.example/"})
        assert response.status_code == 302 and response.url == reverse("governance:friction_mine")
        assert reason in client.get(response.url).content.decode()
    assert not FrictionReport.objects.exists()


def test_a_reporter_sees_their_own_and_owners_their_sites(client, people, own_site, other_site, make_user):
    mine = friction_report(by=people["scheduler"], workflow="referral", note="Mine")
    colleague = make_user(Role.SCHEDULER)
    theirs = friction_report(by=colleague, workflow="referral", note="A colleague's")
    far = friction_report(by=people["elsewhere"], workflow="referral", note="Far away", site_id=other_site.pk)
    client.force_login(people["scheduler"])
    assert "Mine" in client.get(reverse("governance:friction_mine")).content.decode()
    assert "A colleague" not in client.get(reverse("governance:friction_mine")).content.decode()
    assert client.get(reverse("governance:friction_detail", args=[mine.pk])).status_code == 200
    assert client.get(reverse("governance:friction_detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("governance:friction_queue")).status_code == 403  # owns nothing
    client.force_login(people["owner"])  # an MA who owns referrals at the own site
    queue = client.get(reverse("governance:friction_queue")).content.decode()
    assert "Mine" in queue and "A colleague" in queue and "Far away" not in queue
    assert client.get(reverse("governance:friction_detail", args=[far.pk])).status_code == 404


def test_the_owner_acknowledges_replies_and_closes_and_the_reporter_sees_it(client, people):
    report = friction_report(by=people["scheduler"], workflow="referral", note="The slot list never shows Fridays")
    client.force_login(people["owner"])
    url = reverse("governance:friction_detail", args=[report.pk])
    response = client.post(url, {"status": "acknowledged", "reply": "Seen: we are checking the Friday schedule."})
    assert response.status_code == 302 and response.url == url
    report.refresh_from_db()
    assert report.status == "acknowledged" and report.acknowledged_by == people["owner"]
    assert Notification.objects.filter(user=people["scheduler"], kind="friction").exists()
    assert client.post(url, {"status": "new"}).status_code == 400  # never back to new
    assert client.post(url, {}).status_code == 400  # nothing to do
    client.post(url, {"status": "fixed", "reply": "Fridays are back."})
    report.refresh_from_db()
    assert report.status == "fixed" and report.closed_at is not None
    client.force_login(people["scheduler"])
    mine = client.get(reverse("governance:friction_mine")).content.decode()
    assert "Fixed" in mine and "Fridays are back." in mine
    assert client.post(url, {"status": "wont_fix"}).status_code == 403  # a reporter does not handle


def test_someone_who_neither_owns_nor_supervises_cannot_answer(people, make_user):
    report = friction_report(by=people["scheduler"], workflow="referral", note="x")
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        friction_respond(report_id=report.pk, by=make_user(Role.CLINICIAN), status="acknowledged")
    with pytest.raises(PermissionDenied):
        friction_respond(report_id=report.pk, by=people["elsewhere"], status="acknowledged")


def test_counts_and_time_to_acknowledge_are_kpis(people, own_site):
    t0 = timezone.now() - timedelta(days=3)
    for n, hours in enumerate([2, 6, None]):
        report = friction_report(by=people["scheduler"], workflow="referral", note=f"n{n}")
        ack = None if hours is None else t0 + timedelta(hours=hours)
        FrictionReport.objects.filter(pk=report.pk).update(created_at=t0, acknowledged_at=ack)
    day = timezone.localdate()
    scope = Scope(day - timedelta(days=6), day, (own_site,))
    assert kpi_result_get(kpi_get("gov_friction_reports"), scope).value == 3
    ack = kpi_result_get(kpi_get("gov_friction_ack_median"), scope)
    assert (ack.value, ack.n) == (4.0, 2)  # hours; the unacknowledged one has no time yet
