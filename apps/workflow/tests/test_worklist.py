"""The one worklist, on each of the three workflows: queues and live counts per site, filters,
claim and release, saved views, supervisors' bulk assign and move and each workflow's safe bulk
action, the site column when more than one site is listed, and post-redirect-get everywhere."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.core.middleware import BACKGROUND_HEADER
from apps.core.models import AccessLog
from apps.core.roles import Role
from apps.workflow.models import SavedView, Transition
from apps.workflow.registry import workflow_model
from tests.plugins.intake import intake_make
from tests.plugins.referrals import ReferralFactory
from tests.plugins.results import result_make

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
POLL = {"HTTP_" + BACKGROUND_HEADER.upper().replace("-", "_"): "1", **HTMX}


@dataclass(frozen=True)
class Case:
    workflow: str
    ns: str
    worker: str
    make: Callable[..., Any]  # make(site, **fields) → an open item a worker may claim
    urgent: dict[str, Any]  # fields of a STAT item
    own_queue: str  # the queue label its items sit in
    safe_action: str  # its safe bulk action's key
    safe_make: Callable[..., Any]  # an item the safe action applies to
    safe_done: Callable[[Any], bool]  # whether the safe action was done to it
    noun: str
    plural: str
    not_safe: dict[str, Any]  # fields of an item the safe action refuses

    def url(self, name: str, *args: Any) -> str:
        return reverse(f"{self.ns}:{name}", args=args)


def _state(item: Any) -> str:
    return workflow_model(item.WORKFLOW).objects.get(pk=item.pk).state


CASES = [
    Case("referral", "referrals", Role.SCHEDULER, lambda site, **f: ReferralFactory(site=site, **f),
         {"priority": "stat", "priority_rank": 0}, "Triage", "triage",
         lambda site: ReferralFactory(site=site), lambda item: _state(item) == "triage", "referral", "referrals",
         {"state": "accepted"}),
    Case("result", "results", Role.MEDICAL_ASSISTANT,
         lambda site, **f: result_make(site, **{"state": "reviewed", "follow_up": "notify_only", **f}),
         {"criticality": "critical"}, "Tell the patient", "close",
         lambda site: result_make(site, state="follow_up_scheduled", follow_up="appointment"),
         lambda item: _state(item) == "closed", "result", "results", {}),
    Case("intake", "intake", Role.MEDICAL_ASSISTANT, lambda site, **f: intake_make(site, **f),
         {"priority": "stat", "priority_rank": 0}, "Intake", "no_show",
         lambda site: intake_make(site, days=-1), lambda item: _state(item) == "no_show", "intake", "intakes",
         {"days": 2}),
]  # fmt: skip
by_workflow = pytest.mark.parametrize("case", CASES, ids=lambda c: c.workflow)


def row_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'id="row-(\d+)"', response.content.decode())]


@pytest.fixture
def boss(make_user, own_site):
    return make_user(Role.SUPERVISOR, username="boss", first_name="Dana", last_name="Boss")


@by_workflow
def test_the_sidebar_counts_open_items_per_site_and_queue(client, make_user, own_site, other_site, case):
    worker = make_user(case.worker, sites=[own_site, other_site])
    now = timezone.now()
    late = case.make(own_site)
    type(late).objects.filter(pk=late.pk).update(due_at=now - timedelta(hours=2), warn_at=now - timedelta(hours=3))
    case.make(own_site, assignee=worker, claimed_at=now)
    case.make(other_site)
    client.force_login(worker)
    page = client.get(case.url("worklist")).content.decode()
    assert "Own Clinic" in page and "Other Hospital" in page and 'id="queue-counts"' in page
    counts = client.get(case.url("counts"), **POLL).content.decode()
    assert f'hx-trigger="every 30s, {case.ns}-counts-changed from:body"' in counts
    own = next(block for block in counts.split('class="wl-site"') if "Own Clinic" in block)
    numbers = r" <span class=\"wl-count\">(\d+)</span>\s*<span[^>]*>(.*?)</span>\s*</a>"
    queue = re.search(rf"{case.own_queue}</span>{numbers}", own, re.S)
    assert queue.group(1) == "2" and "1 overdue" in queue.group(2) and "1 unassigned" in queue.group(2)


@by_workflow
def test_filters_narrow_the_list_and_a_bad_value_is_shown_not_guessed(client, make_user, own_site, case):
    worker = make_user(case.worker)
    urgent = case.make(own_site, **case.urgent)
    case.make(own_site)
    mine = case.make(own_site, assignee=worker, claimed_at=timezone.now())
    client.force_login(worker)
    assert row_ids(client.get(case.url("worklist"), {"priority": "stat"})) == [urgent.pk]
    assert row_ids(client.get(case.url("worklist"), {"assignee": "me"})) == [mine.pk]
    bad = client.get(case.url("worklist"), {"priority": "sideways"})
    assert bad.status_code == 200 and "Some filters were not understood" in bad.content.decode()
    swapped = client.get(case.url("worklist"), {"priority": "stat"}, **HTMX)
    assert "<html" not in swapped.content.decode() and swapped["HX-Trigger"] == f"{case.ns}-counts-changed"


@by_workflow
def test_claim_and_release_swap_the_row_and_a_plain_post_redirects_back(client, make_user, own_site, case):
    worker = make_user(case.worker, first_name="Sam", last_name="Rivera")
    item = case.make(own_site)
    client.force_login(worker)
    claimed = client.post(case.url("claim", item.pk), {"where": "row"}, **HTMX)
    body = claimed.content.decode()
    assert claimed.status_code == 200 and body.lstrip().startswith(f'<tr id="row-{item.pk}"')
    assert "<strong>You</strong>" in body and 'data-action="release"' in body
    released = client.post(case.url("release", item.pk), {"where": "row"}, **HTMX)
    assert 'data-action="claim"' in released.content.decode()
    back = f"{case.url('worklist')}?priority=routine"
    plain = client.post(case.url("claim", item.pk), {"where": "row", "next": back})
    assert plain.status_code == 302 and plain.url == back  # post-redirect-get: a reload resubmits nothing
    assert "Claimed: it is yours now." in client.get(plain.url).content.decode()
    names = Transition.objects.filter(workflow=case.workflow, item_id=item.pk).values_list("transition", flat=True)
    assert [n for n in names if n in ("claim", "release")] == ["claim", "release", "claim"]


@by_workflow
def test_a_second_claimer_is_told_who_has_it(client, make_user, own_site, case):
    holder = make_user(case.worker, first_name="Kim", last_name="Okafor")
    item = case.make(own_site, assignee=holder, claimed_at=timezone.now())
    client.force_login(make_user(case.worker))
    refused = client.post(case.url("claim", item.pk), {"where": "row"}, **HTMX)
    assert refused.status_code == 409 and "Already claimed by Kim Okafor at" in refused.content.decode()
    assert 'hx-swap-oob="true"' in refused.content.decode()


@by_workflow
def test_saved_views_save_apply_and_delete(client, make_user, own_site, case):
    worker = make_user(case.worker)
    urgent = case.make(own_site, **case.urgent)
    case.make(own_site)
    client.force_login(worker)
    saved = client.post(case.url("view_save"), {"name": "STAT first", "priority": "stat", "sort": "due"})
    assert saved.status_code == 302 and saved.url == f"{case.url('worklist')}?priority=stat&sort=due"
    view = SavedView.objects.get(user=worker)
    assert (view.workflow, view.params) == (case.workflow, {"priority": "stat", "sort": "due"})
    page = client.get(case.url("worklist")).content.decode()
    assert "STAT first" in page and row_ids(client.get(saved.url)) == [urgent.pk]
    assert client.post(case.url("view_delete", view.pk)).status_code == 302
    assert not SavedView.objects.exists()


@by_workflow
def test_a_supervisor_assigns_moves_and_runs_the_safe_bulk_action(client, boss, make_user, own_site, case):
    worker = make_user(case.worker, first_name="Kim", last_name="Okafor")
    items = [case.make(own_site) for _ in range(2)]
    client.force_login(boss)
    page = client.get(case.url("worklist")).content.decode()
    assert 'id="bulk-form"' in page and f'value="{case.safe_action}"' in page
    offered = re.search(r'<select id="bulk-queue"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert "Supervisor" in offered and case.own_queue not in offered  # only queues that fit, not their own
    ids = [item.pk for item in items]
    back = f"{case.url('worklist')}?sort=oldest"
    assigned = client.post(case.url("bulk"), {"action": "assign", "ids": ids, "assignee": worker.pk, "next": back})
    assert assigned.status_code == 302 and assigned.url == back
    assert f"2 {case.plural} assigned to Kim Okafor." in client.get(back).content.decode()
    model = workflow_model(case.workflow)
    assert set(model.objects.filter(assignee=worker).values_list("pk", flat=True)) == set(ids)
    moved = client.post(case.url("bulk"), {"action": "move", "ids": ids[:1], "queue": "supervisor"}, follow=True)
    assert f"1 {case.noun} moved to Supervisor." in moved.content.decode()
    assert model.objects.get(pk=ids[0]).queue == "supervisor"
    target, other = case.safe_make(own_site), case.make(own_site, **case.not_safe)
    done = client.post(case.url("bulk"), {"action": case.safe_action, "ids": [target.pk, other.pk]}, follow=True)
    text = done.content.decode()
    assert case.safe_done(target) and not case.safe_done(other)
    assert f"#{other.pk}: " in text and "1 " + case.noun in text  # what was not done, and why


@by_workflow
def test_bulk_is_for_supervisors_and_an_empty_one_redirects_with_a_message(client, boss, make_user, own_site, case):
    item = case.make(own_site)
    client.force_login(make_user(case.worker))
    assert 'id="bulk-form"' not in client.get(case.url("worklist")).content.decode()
    forged = {"action": "move", "ids": [item.pk], "queue": "supervisor"}
    assert client.post(case.url("bulk"), forged).status_code == 403
    assert client.post(case.url("bulk"), {"action": case.safe_action, "ids": [item.pk]}).status_code == 403
    client.force_login(boss)
    empty = client.post(case.url("bulk"), {"action": "move", "queue": "supervisor"}, follow=True)
    assert empty.redirect_chain[0][1] == 302 and f"Select {case.plural} first." in empty.content.decode()


@by_workflow
def test_opening_an_action_address_goes_back_to_the_list_never_a_bare_405(client, boss, own_site, case):
    item = case.make(own_site)
    client.force_login(boss)
    for url in (case.url("claim", item.pk), case.url("release", item.pk), case.url("bulk"), case.url("view_save")):
        response = client.get(url)
        assert response.status_code == 302 and response.url == case.url("worklist"), url
    assert client.put(case.url("bulk")).status_code == 405


@by_workflow
def test_a_site_column_when_more_than_one_site_is_listed(client, make_user, own_site, other_site, case):
    both = make_user(Role.SUPERVISOR, sites=[own_site, other_site])
    case.make(own_site)
    case.make(other_site)
    client.force_login(both)
    page = client.get(case.url("worklist")).content.decode()
    assert '<th scope="col" class="wl-site-col">Site</th>' in page
    assert '<td class="wl-site-col">Own Clinic</td>' in page and '<td class="wl-site-col">Other Hospital</td>' in page
    one_site = client.get(case.url("worklist"), {"site": "own"}).content.decode()
    assert "wl-site-col" not in one_site
    client.force_login(make_user(case.worker))
    assert "wl-site-col" not in client.get(case.url("worklist")).content.decode()


@by_workflow
def test_only_my_sites_are_listed_and_each_patient_shown_is_access_logged(client, make_user, own_site, other_site,
                                                                          case):  # fmt: skip
    worker = make_user(case.worker)
    mine = case.make(own_site)
    theirs = case.make(other_site)
    client.force_login(worker)
    assert row_ids(client.get(case.url("worklist"))) == [mine.pk]
    assert client.post(case.url("claim", theirs.pk)).status_code == 404
    logged = set(AccessLog.objects.filter(user=worker, action="list").values_list("what", flat=True))
    assert logged == {f"{case.workflow}:{mine.pk}"}


# --- each workflow's own rules ------------------------------------------------------------


def test_a_clinician_acknowledges_normal_results_from_the_worklist_all_or_none(client, make_user, own_site):
    dr = make_user(Role.CLINICIAN)
    normals = [result_make(own_site) for _ in range(2)]
    abnormal = result_make(own_site, criticality="abnormal")
    client.force_login(dr)
    page = client.get(reverse("results:worklist")).content.decode()
    assert 'value="acknowledge"' in page and 'data-action="claim"' not in page
    assert "Waiting for a clinician&#x27;s review" in page  # who acts next, instead of a claim button
    mixed = {"action": "acknowledge", "ids": [n.pk for n in [*normals, abnormal]]}
    refused = client.post(reverse("results:bulk"), mixed, follow=True)
    assert "Nothing changed." in refused.content.decode() and _state(normals[0]) == "new"
    done = client.post(reverse("results:bulk"), {"action": "acknowledge", "ids": [n.pk for n in normals]}, follow=True)
    assert "2 results acknowledged" in done.content.decode()
    assert {_state(n) for n in normals} == {"closed"} and _state(abnormal) == "new"


def test_a_result_waiting_for_review_is_not_claimed_from_the_worklist(client, make_user, own_site):
    item = result_make(own_site)
    client.force_login(make_user(Role.MEDICAL_ASSISTANT))
    response = client.post(reverse("results:claim", args=[item.pk]))
    assert response.status_code == 302  # refused, then post-redirect-get: reload never claims again
    assert "Waiting for a clinician" in client.get(response["Location"]).content.decode()
    assert workflow_model("result").objects.get(pk=item.pk).assignee is None


def test_the_no_show_bulk_action_takes_only_past_visits(client, boss, own_site):
    past, today = intake_make(own_site, days=-1), intake_make(own_site, days=0)
    client.force_login(boss)
    response = client.post(reverse("intake:bulk"), {"action": "no_show", "ids": [past.pk, today.pk]}, follow=True)
    text = response.content.decode()
    assert "1 intake marked as no-shows." in text and f"#{today.pk}: the visit is today or later" in text
    assert (_state(past), _state(today)) == ("no_show", "pending")


def test_a_move_offers_only_the_queues_that_fit_the_listed_states(client, boss, own_site):
    ReferralFactory(site=own_site, state="accepted")  # scheduling
    client.force_login(boss)
    page = client.get(reverse("referrals:worklist"), {"state": "accepted"}).content.decode()
    offered = re.findall(r'<option value="([^"]*)"', re.search(r'<select id="bulk-queue".*?</select>', page, re.S)[0])
    assert offered == ["", "supervisor"]  # not triage, authorisation, waiting, scheduled or exceptions
