"""The worklist and item pages: filters, sort, keyset pages, counts, row actions, bulk actions,
saved views, the item's allowed actions, 403/404/409, access logs and the session rules."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.core.middleware import BACKGROUND_HEADER
from apps.core.models import AccessLog
from apps.core.roles import Role
from apps.ehr.models import InboxMessage
from apps.referrals.models import Referral
from apps.referrals.workflow import State
from apps.workflow.models import Note, Outreach, SavedView, Transition
from tests.plugins.core import PASSWORD, ServiceLineFactory, SiteFactory
from tests.plugins.ehr_messages import inbox_make
from tests.plugins.ehr_store import store_make
from tests.plugins.referrals import ReferralFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
POLL = {"HTTP_" + BACKGROUND_HEADER.upper().replace("-", "_"): "1", **HTMX}
WORKLIST = "/referrals/"


def row_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'id="row-(\d+)"', response.content.decode())]


def item_url(referral, name="detail", **kwargs):
    return reverse(f"referrals:{name}", kwargs={"pk": referral.pk, **kwargs})


@pytest.fixture
def sam(make_user):
    return make_user(Role.SCHEDULER, username="sam", first_name="Sam", last_name="Rivera")


@pytest.fixture
def kim(make_user):
    return make_user(Role.SCHEDULER, username="kim", first_name="Kim", last_name="Okafor")


@pytest.fixture
def boss(make_user, own_site, other_site):
    return make_user(Role.SUPERVISOR, sites=[own_site, other_site], username="boss", first_name="Dana")


@pytest.fixture
def as_sam(client, sam):
    client.force_login(sam)
    return client


# --- access -----------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [(None, 302), (Role.LEADER, 403), (Role.MEDICAL_ASSISTANT, 403),
                                              (Role.SCHEDULER, 200), (Role.SUPERVISOR, 200)])  # fmt: skip
def test_the_worklist_is_for_people_who_work_referrals(client, make_user, role, status):
    if role:
        client.force_login(make_user(role))
    assert client.get(WORKLIST).status_code == status


def test_only_my_sites_are_listed_with_patient_names_and_nothing_is_cached(as_sam, own_site, other_site):
    mine = ReferralFactory(site=own_site, patient__family="Rivera", patient__given="Ana")
    theirs = ReferralFactory(site=other_site, patient__family="Hidden")
    response = as_sam.get(WORKLIST)
    assert row_ids(response) == [mine.pk] and theirs.pk not in row_ids(response)
    body = response.content.decode()
    assert "Rivera, Ana" in body and "Born 12 Mar 1961" in body and "Hidden" not in body
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert '<script src="/static/js/worklist.js"' in body and "<style" not in body and " style=" not in body
    assert "{#" not in body and "{%" not in body


def test_a_referral_whose_patient_has_not_arrived_is_listed_without_a_name(as_sam, own_site):
    ReferralFactory(site=own_site, patient=False)
    assert "Patient not received yet" in as_sam.get(WORKLIST).content.decode()
    assert not AccessLog.objects.exists()


def test_someone_who_works_referrals_without_seeing_patients_gets_no_names_and_no_log(client, make_user, own_site):
    user = make_user(None)
    user.user_permissions.add(Permission.objects.get(codename="work_referrals"))
    client.force_login(user)
    referral = ReferralFactory(site=own_site, patient__family="Secret")
    for url in (WORKLIST, item_url(referral), f"/api/referrals/{referral.pk}/", "/api/referrals/"):
        response = client.get(url)
        assert response.status_code == 200 and b"Secret" not in response.content, url
    assert "Patient hidden" in client.get(WORKLIST).content.decode()
    assert not AccessLog.objects.exists()


def test_the_navigation_offers_referrals_to_workers_only(client, make_user):
    client.force_login(make_user(Role.SCHEDULER))
    assert 'href="/referrals/"' in client.get("/").content.decode()
    client.force_login(make_user(Role.MEDICAL_ASSISTANT))
    assert 'href="/referrals/"' not in client.get("/").content.decode()


# --- filters, sort, pages ---------------------------------------------------------------


@pytest.fixture
def mixed(own_site, other_site, sam, kim):
    now, day = timezone.now(), timedelta(days=1)
    return {
        "stat": ReferralFactory(site=own_site, priority="stat"),
        "overdue": ReferralFactory(site=own_site, due_at=now - timedelta(hours=2), warn_at=now - timedelta(hours=9)),
        "soon": ReferralFactory(site=own_site, due_at=now + timedelta(hours=1), warn_at=now - timedelta(hours=1)),
        "paused": ReferralFactory(site=own_site, state=State.NEEDS_INFO, due_at=now - timedelta(hours=1),
                                  sla_paused_at=now - timedelta(hours=3), sla_remaining_minutes=60),
        "mine": ReferralFactory(site=own_site, assignee=sam, claimed_at=now, state=State.TRIAGE),
        "kims": ReferralFactory(site=own_site, assignee=kim, claimed_at=now, state=State.ACCEPTED),
        "old": ReferralFactory(
            site=own_site, opened_at=now - 10 * day, due_at=now + 2 * day, warn_at=now + day
        ),
        "closed": ReferralFactory(site=own_site, state=State.DECLINED),
        "elsewhere": ReferralFactory(site=other_site, priority="stat"),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"stat", "overdue", "soon", "paused", "mine", "kims", "old"}),
        ("priority=stat", {"stat"}),
        ("state=needs_info", {"paused"}),
        ("queue=scheduling", {"kims"}),
        ("assignee=me", {"mine"}),
        ("assignee=unassigned", {"stat", "overdue", "soon", "paused", "old"}),
        ("due=overdue", {"overdue"}),
        ("due=due_soon", {"soon"}),
        ("min_age_days=7", {"old"}),
        ("site=own&priority=stat", {"stat"}),
    ],
)
def test_filters(as_sam, mixed, query, expected):
    response = as_sam.get(f"{WORKLIST}?{query}")
    assert response.status_code == 200
    assert set(row_ids(response)) == {mixed[name].pk for name in expected}


def test_filter_by_a_person(as_sam, mixed, kim):
    assert row_ids(as_sam.get(f"{WORKLIST}?assignee={kim.pk}")) == [mixed["kims"].pk]


@pytest.mark.parametrize("query", ["priority=bogus", "min_age_days=-3", "min_age_days=abc", "assignee=999999",
                                   "site=other", "sort=sideways", "due=yesterday", "state=completed"])  # fmt: skip
def test_a_bad_filter_value_is_shown_not_guessed_and_never_a_500(as_sam, mixed, query):
    response = as_sam.get(f"{WORKLIST}?{query}")
    assert response.status_code == 200
    assert "Some filters were not understood" in response.content.decode()


def test_the_other_sites_code_is_not_a_filter_i_may_use(as_sam, mixed):
    response = as_sam.get(f"{WORKLIST}?site=other")
    assert mixed["elsewhere"].pk not in row_ids(response)


def test_sorts(as_sam, own_site):
    now = timezone.now()
    a = ReferralFactory(
        site=own_site, priority="routine", opened_at=now - timedelta(days=3), due_at=now + timedelta(hours=1)
    )
    b = ReferralFactory(
        site=own_site, priority="stat", opened_at=now - timedelta(days=1), due_at=now + timedelta(days=4)
    )
    c = ReferralFactory(
        site=own_site, priority="urgent", opened_at=now - timedelta(days=2), due_at=now + timedelta(days=2)
    )
    assert row_ids(as_sam.get(WORKLIST)) == [b.pk, c.pk, a.pk]
    assert row_ids(as_sam.get(f"{WORKLIST}?sort=due")) == [a.pk, c.pk, b.pk]
    assert row_ids(as_sam.get(f"{WORKLIST}?sort=oldest")) == [a.pk, c.pk, b.pk]
    assert row_ids(as_sam.get(f"{WORKLIST}?sort=newest")) == [b.pk, c.pk, a.pk]


def test_keyset_pages_follow_the_next_link_and_miss_nothing(as_sam, own_site):
    made = {ReferralFactory(site=own_site, patient=False).pk for _ in range(57)}
    first = as_sam.get(f"{WORKLIST}?sort=oldest")
    link = re.search(r'href="([^"]+)"[^>]*rel="next"', first.content.decode()).group(1).replace("&amp;", "&")
    assert "cursor=" in link and "sort=oldest" in link and "offset" not in link and "page=" not in link
    second = as_sam.get(link, **HTMX)
    assert len(row_ids(first)) == 50 and len(row_ids(second)) == 7
    assert set(row_ids(first)) | set(row_ids(second)) == made and not set(row_ids(first)) & set(row_ids(second))
    assert 'rel="next"' not in second.content.decode() and "First page" in second.content.decode()


def test_an_htmx_filter_swaps_the_results_and_asks_the_counts_to_follow(as_sam, mixed):
    response = as_sam.get(f"{WORKLIST}?priority=stat", **HTMX)
    body = response.content.decode()
    assert "<html" not in body and 'id="worklist-table"' in body
    assert response["HX-Trigger"] == "referrals-counts-changed" and "HX-Request" in response["Vary"]


def test_the_number_of_queries_does_not_grow_with_the_page_size(client, boss, own_site, django_assert_max_num_queries):
    client.force_login(boss)
    ReferralFactory(site=own_site, state=State.TRIAGE)
    client.get(WORKLIST)  # warm the permission and content-type caches
    with CaptureQueriesContext(connection) as one_row:
        client.get(WORKLIST)
    for i in range(60):
        ReferralFactory(site=own_site, assignee=boss if i % 3 else None, possible_duplicate_of_id=None)
    with django_assert_max_num_queries(len(one_row)):
        response = client.get(WORKLIST)
    assert len(row_ids(response)) == 50


# --- counts and polling -----------------------------------------------------------------


def test_queue_counts_show_total_overdue_and_unassigned_per_site(as_sam, mixed):
    body = as_sam.get(reverse("referrals:counts"), **POLL).content.decode()
    assert 'hx-trigger="every 30s, referrals-counts-changed from:body"' in body
    assert '"X-Clinops-Background": "1"' in body
    triage = re.search(
        r"Triage</span> <span class=\"wl-count\">(\d+)</span>\s*<span[^>]*>(.*?)</span>\s*</a>", body, re.S
    )
    assert triage.group(1) == "5"  # stat, overdue, soon, mine, old
    assert "1 overdue" in triage.group(2) and "4 unassigned" in triage.group(2)
    assert "Other Hospital" not in body


def test_background_polling_does_not_keep_an_idle_session_alive(client, sam, own_site):
    start = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        client.post(reverse("login"), {"username": "sam", "password": PASSWORD})
        assert client.get(WORKLIST).status_code == 200
        last = client.session["clinops_last_activity"]
        for _ in range(14):
            clock.shift(timedelta(minutes=1))
            assert client.get(reverse("referrals:counts"), **POLL).status_code == 200
        assert client.session["clinops_last_activity"] == last
        clock.shift(timedelta(minutes=2))
        polled = client.get(reverse("referrals:counts"), **POLL)
        assert "reason=idle" in polled["HX-Redirect"]


# --- claim, release, bulk ---------------------------------------------------------------


def test_claim_and_release_swap_the_row(as_sam, sam, own_site):
    referral = ReferralFactory(site=own_site, patient__family="Rivera")
    claimed = as_sam.post(item_url(referral, "claim"), {"where": "row"}, **HTMX)
    body = claimed.content.decode()
    assert claimed.status_code == 200 and body.lstrip().startswith(f'<tr id="row-{referral.pk}"')
    assert "<strong>You</strong>" in body and 'data-action="release"' in body and "Rivera" in body
    assert claimed["HX-Trigger"] == "referrals-counts-changed"  # the counts refresh at once
    released = as_sam.post(item_url(referral, "release"), {"where": "row"}, **HTMX)
    assert 'data-action="claim"' in released.content.decode()
    assert list(Transition.objects.filter(item_id=referral.pk).values_list("transition", flat=True)) == [
        "claim", "release",
    ]  # fmt: skip


def test_the_second_claimer_is_told_who_has_it_and_when(client, sam, kim, own_site):
    referral = ReferralFactory(site=own_site)
    client.force_login(sam)
    client.post(item_url(referral, "claim"), {"where": "row"}, **HTMX)
    at = timezone.localtime(Referral.objects.get().claimed_at, own_site.tzinfo).strftime("%H:%M")
    client.force_login(kim)
    refused = client.post(item_url(referral, "claim"), {"where": "row"}, **HTMX)
    body = refused.content.decode()
    assert refused.status_code == 409 and refused["HX-Retarget"] == "#flash"
    assert f"Already claimed by Sam Rivera at {at}." in body and 'role="alert"' in body
    assert 'hx-swap-oob="true"' in body and "Sam Rivera</td>" in body  # the row now shows who has it
    assert f'href="{WORKLIST}"' in body  # "Reload" reloads the worklist
    page = client.post(item_url(referral, "claim"), follow=True)  # without htmx: post-redirect-get
    assert page.redirect_chain == [(item_url(referral), 302)]
    assert f"Already claimed by Sam Rivera at {at}." in page.content.decode()


def test_a_plain_claim_without_javascript_redirects_back(as_sam, own_site):
    referral = ReferralFactory(site=own_site)
    response = as_sam.post(item_url(referral, "claim"), {"where": "row", "next": f"{WORKLIST}?priority=stat"})
    assert response.status_code == 302 and response.url == f"{WORKLIST}?priority=stat"
    evil = as_sam.post(item_url(referral, "release"), {"next": "https://evil.example/"})
    assert evil.url == item_url(referral)


def test_releasing_someone_elses_claim_is_refused_with_the_reason(as_sam, kim, own_site):
    referral = ReferralFactory(site=own_site, assignee=kim, claimed_at=timezone.now())
    response = as_sam.post(item_url(referral, "release"))
    assert response.status_code == 403 and "Only a supervisor can do that." in response.content.decode()


def test_bulk_actions_are_for_supervisors(as_sam, own_site):
    referral = ReferralFactory(site=own_site)
    response = as_sam.post(reverse("referrals:bulk"), {"action": "move", "ids": [referral.pk], "queue": "scheduling"})
    assert response.status_code == 403
    assert 'id="bulk-form"' not in as_sam.get(WORKLIST).content.decode()


def test_bulk_assign_and_move_report_what_failed_and_why(client, boss, kim, own_site, other_site):
    client.force_login(boss)
    here = [ReferralFactory(site=own_site) for _ in range(2)]
    there = ReferralFactory(site=other_site)
    hidden = ReferralFactory(site=SiteFactory(code="third"))
    ids = [r.pk for r in [*here, there, hidden]]
    response = client.post(reverse("referrals:bulk"), {"action": "assign", "ids": ids, "assignee": kim.pk}, follow=True)
    text = response.content.decode()
    assert "2 referrals assigned to Kim Okafor." in text
    assert "2 referrals not changed" in text and f"#{hidden.pk}: not found" in text
    assert f"#{there.pk}: This item belongs to a site" in text  # Kim does not work at the other site
    assert set(Referral.objects.filter(assignee=kim).values_list("pk", flat=True)) == {r.pk for r in here}
    moved = client.post(
        reverse("referrals:bulk"), {"action": "move", "ids": ids[:3], "queue": "supervisor"}, follow=True
    )
    assert "3 referrals moved to Supervisor." in moved.content.decode()
    assert Referral.objects.filter(queue="supervisor").count() == 3
    unfit = client.post(
        reverse("referrals:bulk"), {"action": "move", "ids": ids[:1], "queue": "scheduled"}, follow=True
    )
    assert f"#{ids[0]}: This referral is received: it belongs in" in unfit.content.decode()
    assert Referral.objects.get(pk=ids[0]).queue == "supervisor"
    empty = client.post(reverse("referrals:bulk"), {"action": "move", "queue": "scheduling"}, follow=True)
    assert "Select referrals first." in empty.content.decode()


# --- saved views ------------------------------------------------------------------------


def test_saved_views_save_list_apply_and_delete(as_sam, sam, kim, mixed):
    response = as_sam.post(reverse("referrals:view_save"), {"name": "My STATs", "priority": "stat", "sort": "due"})
    view = SavedView.objects.get(user=sam)
    assert view.params == {"priority": "stat", "sort": "due"} and view.workflow == "referral"
    assert response.status_code == 302 and response.url == f"{WORKLIST}?priority=stat&sort=due"
    page = as_sam.get(WORKLIST).content.decode()
    assert "My STATs" in page and f'href="{WORKLIST}?priority=stat&amp;sort=due"' in page
    assert row_ids(as_sam.get(response.url)) == [mixed["stat"].pk]
    theirs = SavedView.objects.create(user=kim, workflow="referral", name="Kim's", params={})
    assert as_sam.post(reverse("referrals:view_delete", args=[theirs.pk])).status_code == 404
    as_sam.post(reverse("referrals:view_delete", args=[view.pk]))
    assert list(SavedView.objects.values_list("name", flat=True)) == ["Kim's"]


# --- the item page ----------------------------------------------------------------------


@pytest.fixture
def full(own_site, sam):
    referral = ReferralFactory(site=own_site, state=State.TRIAGE, patient__family="Rivera", patient__given="Ana",
                               patient__mrn="MRN-77", patient__gender="female")  # fmt: skip
    store_make("DocumentReference", "doc-1", source=referral.source, subject_ref=referral.patient_ref,
               type_display="ECG report", description="12-lead ECG", status="current")  # fmt: skip
    store_make("DocumentReference", "doc-2", source=referral.source, subject_ref="Patient/someone-else",
               type_display="Not theirs")  # fmt: skip
    sr = referral.service_request
    inbox_make(source=referral.source, resource={"resourceType": "ServiceRequest", "id": sr.fhir_id,
               "meta": {"versionId": "2"}, "subject": {"reference": "Patient/secret"}},
               status=InboxMessage.Status.PROCESSED, outcome="updated")  # fmt: skip
    Note.objects.create(workflow="referral", item_id=referral.pk, site=own_site, author=sam, text="Call after 9")
    return referral


def test_the_item_page_shows_the_patient_referral_documents_and_timeline(as_sam, sam, full):
    response = as_sam.get(item_url(full))
    body = response.content.decode()
    expected = [
        "Rivera, Ana", "12 Mar 1961", "Female", "MRN-77", "Chest pain on exertion", "Practitioner/dr-ref",
        f"ServiceRequest/{full.service_request.fhir_id}", "1 version received", "ECG report", "12-lead ECG",
        "Call after 9", "EHR event", "ServiceRequest version 2: create or update", "Processed, updated",
    ]  # fmt: skip
    for shown in expected:
        assert shown in body, shown
    assert "Not theirs" not in body and "Patient/secret" not in body  # no other patient, no payloads
    log = AccessLog.objects.get()
    assert (log.user, log.action, log.patient, log.what, log.site) == (
        sam, "view", full.patient_ref, f"referral:{full.pk}", full.site,
    )  # fmt: skip


def test_only_the_allowed_actions_are_offered(as_sam, own_site):
    received = as_sam.get(item_url(ReferralFactory(site=own_site))).content.decode()
    offered = set(re.findall(r'data-transition="(\w+)"', received))
    assert offered == {"triage", "request_info", "decline", "cancel"}
    triaged = as_sam.get(item_url(ReferralFactory(site=own_site, state=State.TRIAGE))).content.decode()
    assert set(re.findall(r'data-transition="(\w+)"', triaged)) == {"accept", "request_info", "decline", "cancel"}
    closed = as_sam.get(item_url(ReferralFactory(site=own_site, state=State.DECLINED))).content.decode()
    assert "data-transition" not in closed and "Closed: declined, and the referrer has been told." in closed


def test_after_start_scheduling_the_page_says_where_the_booking_is_made(as_sam, own_site):
    """Issue 14: only Forward and Cancel were left, with no hint of what comes next."""
    scheduling = ReferralFactory(site=own_site, state=State.ACCEPTED, queue="scheduling")
    response = as_sam.post(f"/referrals/{scheduling.pk}/start_scheduling/", follow=True)
    body = response.content.decode()
    assert "Ready to schedule." in body
    assert "Find a free slot and book it here after the patient agrees, or book the appointment in the EHR" in body
    assert "Find a slot and book" in body


def test_decline_reasons_come_from_the_code_list(as_sam, own_site):
    body = as_sam.get(item_url(ReferralFactory(site=own_site))).content.decode()
    for code in ["no-capacity", "not-indicated", "wrong-service", "insufficient-information", "patient-declined",
                 "duplicate"]:  # fmt: skip
        assert f'value="{code}"' in body


def test_another_sites_item_is_not_found_and_non_workers_are_refused(as_sam, client, make_user, own_site, other_site):
    assert as_sam.get(item_url(ReferralFactory(site=other_site))).status_code == 404
    assert as_sam.post(item_url(ReferralFactory(site=other_site), "act", action="triage")).status_code == 404
    client.force_login(make_user(Role.LEADER))
    assert client.get(item_url(ReferralFactory(site=own_site))).status_code == 403


def test_an_action_moves_the_referral_on_and_a_get_changes_nothing(as_sam, own_site):
    referral = ReferralFactory(site=own_site)
    assert as_sam.get(item_url(referral, "act", action="triage")).status_code == 405
    response = as_sam.post(item_url(referral, "act", action="triage"))
    assert response.status_code == 302 and response.url == item_url(referral)
    assert "Triage started." in as_sam.get(response.url).content.decode()
    swapped = as_sam.post(item_url(referral, "act", action="accept"), {"accept-note": "ECG seen"}, **HTMX)
    body = swapped.content.decode()
    assert swapped.status_code == 200 and body.startswith('<div id="referral"') and "Accepted." in body
    assert Referral.objects.get().state == State.ACCEPTED
    assert Transition.objects.get(transition="accept").reason == "ECG seen"


def test_a_stale_action_redirects_to_the_referral_with_the_reason(as_sam, own_site):
    """Post-redirect-get on a refusal too: Back and reload never resubmit (issue 14)."""
    referral = ReferralFactory(site=own_site)  # received: accepting it now is stale
    page = as_sam.post(item_url(referral, "act", action="accept"))
    assert page.status_code == 302 and page.url == item_url(referral)
    body = as_sam.get(page.url).content.decode()
    assert "This referral is received: “Accept” is not possible now. Reload to see where it is now." in body
    assert "is not possible now" not in as_sam.get(page.url).content.decode()  # said once
    swapped = as_sam.post(item_url(referral, "act", action="accept"), **HTMX)
    assert swapped.status_code == 409 and swapped["HX-Retarget"] == "#flash" and "<html" not in swapped.content.decode()
    assert as_sam.post(item_url(referral, "act", action="fly")).status_code == 404


def test_a_forbidden_action_is_a_403_page_with_the_reason(client, make_user, own_site):
    boss = make_user(Role.SUPERVISOR)
    referral = ReferralFactory(site=own_site, assignee=make_user(Role.SCHEDULER), claimed_at=timezone.now())
    client.force_login(make_user(Role.SCHEDULER))
    response = client.post(item_url(referral, "release"), **HTMX)
    assert response.status_code == 403 and "Only a supervisor can do that." in response.content.decode()
    client.force_login(boss)
    assert client.post(item_url(referral, "release")).status_code == 302


@pytest.mark.parametrize(
    ("action", "data", "says"),
    [
        ("request_info", {"request_info-question": ""}, "Question for the referrer: This field is required."),
        ("decline", {"decline-reason_code": "because"}, "Reason: Select a valid choice."),
        ("cancel", {"cancel-reason": "  "}, "Reason: This field is required."),
    ],
)
def test_an_action_that_needs_input_explains_what_is_missing(as_sam, own_site, action, data, says):
    referral = ReferralFactory(site=own_site)
    response = as_sam.post(item_url(referral, "act", action=action), data, follow=True)
    assert response.redirect_chain == [(item_url(referral), 302)] and says in response.content.decode()
    assert Referral.objects.get().state == State.RECEIVED


def test_decline_request_info_and_cancel_with_their_input(as_sam, own_site):
    a, b, c = (ReferralFactory(site=own_site) for _ in range(3))
    as_sam.post(item_url(a, "act", action="decline"), {"decline-reason_code": "wrong-service"})
    as_sam.post(item_url(b, "act", action="request_info"), {"request_info-question": "Latest echo?"})
    as_sam.post(item_url(c, "act", action="cancel"), {"cancel-reason": "Patient moved away"})
    states = dict(Referral.objects.values_list("pk", "state"))
    assert (states[a.pk], states[b.pk], states[c.pk]) == (State.DECLINED, State.NEEDS_INFO, State.CANCELLED)
    assert Referral.objects.get(pk=a.pk).decline_reason == "wrong-service"
    assert "Wrong service" in as_sam.get(item_url(a)).content.decode()


def test_the_third_failed_outreach_offers_abandonment(as_sam, own_site):
    referral = ReferralFactory(site=own_site, state=State.SCHEDULING)
    for n in range(3):
        body = as_sam.get(item_url(referral)).content.decode()
        assert 'data-transition="abandon"' not in body, n
        response = as_sam.post(item_url(referral, "outreach"), {"channel": "phone", "outcome": "no_answer"}, **HTMX)
    body = response.content.decode()
    assert "you can abandon this referral now" in body and 'data-transition="abandon"' in body
    assert Outreach.objects.filter(workflow="referral", item_id=referral.pk).count() == 3
    as_sam.post(item_url(referral, "act", action="abandon"), {"abandon-note": "No reply"})
    assert Referral.objects.get().state == State.ABANDONED
    refused = as_sam.post(item_url(referral, "outreach"), {"channel": "phone"}, follow=True)
    assert "Please check the form. Outcome: This field is required." in refused.content.decode()


def test_notes_and_forwarding(as_sam, own_site):
    line = ServiceLineFactory(code="neuro", name="Neurology")
    own_site.service_lines.add(line)
    referral = ReferralFactory(site=own_site)
    as_sam.post(item_url(referral, "note"), {"text": "Called the GP"})
    assert Note.objects.get().text == "Called the GP"
    empty = as_sam.post(item_url(referral, "note"), {"text": ""})
    assert empty.status_code == 302 and Note.objects.count() == 1
    as_sam.post(
        item_url(referral, "act", action="forward"), {"forward-service_line": "neuro", "forward-reason": "Fits"}
    )
    assert Referral.objects.get().service_line == line
    assert "Forwarded to another service line" in as_sam.get(item_url(referral)).content.decode()


# --- access log -------------------------------------------------------------------------


def test_each_page_of_patients_is_access_logged_in_bulk(client, boss, own_site, other_site):
    client.force_login(boss)
    shown = [ReferralFactory(site=own_site), ReferralFactory(site=other_site), ReferralFactory(site=own_site)]
    ReferralFactory(site=own_site, patient=False)
    client.get(WORKLIST)
    rows = set(AccessLog.objects.values_list("action", "patient", "what", "site_id", "path"))
    assert rows == {("list", r.patient_ref, f"referral:{r.pk}", r.site_id, WORKLIST) for r in shown}
    client.get(reverse("referrals:counts"), **POLL)  # the counts show no patient
    assert AccessLog.objects.count() == 3


def test_a_flagged_duplicate_is_merged_from_its_page(as_sam, own_site):
    first = ReferralFactory(site=own_site)
    second = ReferralFactory(site=own_site, patient_ref=first.patient_ref, possible_duplicate_of=first)
    page = as_sam.get(item_url(second)).content.decode()
    assert "Merge into the duplicate" in page
    assert "Merge into the duplicate" not in as_sam.get(item_url(first)).content.decode()
    as_sam.post(item_url(second, "act", action="merge"), {"merge-into": first.pk, "merge-note": "Faxed twice"})
    second.refresh_from_db()
    assert (second.state, second.decline_reason) == (State.CANCELLED, "duplicate")
    assert "Merged into its duplicate" in as_sam.get(item_url(second)).content.decode()
