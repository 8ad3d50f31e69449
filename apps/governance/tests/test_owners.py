"""Owners per workflow and site: supervisors and leaders name them on a page (audited), only the
site's staff can be named, the scorecard shows them, and support escalations reach them."""

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from apps.core.roles import Role
from apps.governance.models import WorkflowOwner
from apps.notifications.models import Notification
from apps.results.models import ResultItem
from apps.workflow.services import sla_sweep
from tests.plugins.results import result_make

pytestmark = pytest.mark.django_db


def test_a_supervisor_names_owners_and_it_is_audited(client, make_user, own_site):
    supervisor = make_user(Role.SUPERVISOR)
    ma = make_user(Role.MEDICAL_ASSISTANT, first_name="Mia", last_name="Assistant")
    client.force_login(supervisor)
    url = reverse("governance:owners", args=[own_site.code])
    response = client.post(url, {"workflow": "intake", "system": ma.pk, "support": ma.pk, "clinical": ""})
    assert response.status_code == 302 and response.url == url + "?workflow=intake"
    owners = dict(WorkflowOwner.objects.filter(site=own_site, workflow="intake").values_list("duty", "user"))
    assert owners == {"system": ma.pk, "support": ma.pk}
    entry = LogEntry.objects.get_for_object(WorkflowOwner.objects.get(duty="system")).get()
    assert entry.actor == supervisor
    page = client.get(response.url).content.decode()
    assert "Saved: 2 owners changed." in page and "Mia Assistant" in page
    client.post(url, {"workflow": "intake", "system": "", "support": ma.pk})  # clearing a duty
    assert list(WorkflowOwner.objects.values_list("duty", flat=True)) == ["support"]


def test_only_the_sites_staff_can_be_named(client, make_user, own_site, other_site):
    leader = make_user(Role.LEADER)
    outsider = make_user(Role.SCHEDULER, sites=[other_site])
    client.force_login(leader)
    url = reverse("governance:owners", args=[own_site.code])
    response = client.post(url, {"workflow": "referral", "system": outsider.pk})
    assert response.status_code == 400 and not WorkflowOwner.objects.exists()
    assert client.post(url, {"workflow": "bogus"}).status_code == 400
    assert client.get(reverse("governance:owners", args=[other_site.code])).status_code == 404


def test_the_scorecard_shows_the_owners_of_a_site(client, make_user, own_site):
    leader = make_user(Role.LEADER, first_name="Lee", last_name="Leader")
    WorkflowOwner.objects.create(site=own_site, workflow="result", duty="kpi", user=leader, set_by=leader)
    client.force_login(leader)
    page = client.get(reverse("kpis:scorecard"), {"site": own_site.code}).content.decode()
    panel = page[page.index("Owners at Own Clinic") :]
    assert "Results follow-up" in panel and "Lee Leader" in panel and "Nobody named" in panel


def test_an_escalation_to_the_supervisor_queue_also_reaches_the_support_owner(make_user, own_site, other_site):
    supervisor = make_user(Role.SUPERVISOR)
    support = make_user(Role.MEDICAL_ASSISTANT)
    policy = make_user(Role.CLINICIAN)  # owns another duty: not told of escalations
    elsewhere = make_user(Role.MEDICAL_ASSISTANT, sites=[other_site])
    WorkflowOwner.objects.create(site=own_site, workflow="result", duty="support", user=support, set_by=supervisor)
    WorkflowOwner.objects.create(site=own_site, workflow="result", duty="clinical", user=policy, set_by=supervisor)
    WorkflowOwner.objects.create(site=other_site, workflow="result", duty="support", user=elsewhere, set_by=supervisor)
    item = result_make(own_site, criticality="critical")
    ResultItem.objects.filter(pk=item.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    assert sla_sweep() == 1
    told = set(Notification.objects.filter(kind="item_escalated").values_list("user", flat=True))
    assert told == {supervisor.pk, support.pk}
