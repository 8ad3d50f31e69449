"""The results pages: the inbox grouped by criticality then age, values beside earlier results,
access logging, and bad or stale input answered on the page with nothing lost."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.core.models import AccessLog
from apps.core.roles import Role
from apps.results.models import Coverage, ResultItem
from apps.results.workflow import FollowUp, State
from tests.plugins.ehr_store import store_make
from tests.plugins.results import SOURCE, result_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def dr(make_user):
    return make_user(Role.CLINICIAN, username="drlee")


@pytest.fixture
def ma(make_user):
    return make_user(Role.MEDICAL_ASSISTANT, username="maria")


def test_inbox_groups_critical_first_then_oldest_and_logs_each_patient(client, dr, own_site, other_site):
    now = timezone.now()
    young_normal = result_make(own_site, assignee=dr, opened_at=now)
    old_normal = result_make(own_site, assignee=dr, opened_at=now - timedelta(days=2))
    critical = result_make(own_site, criticality="critical")  # unassigned pool of the site
    elsewhere = result_make(other_site, criticality="critical")
    client.force_login(dr)
    response = client.get(reverse("results:inbox"))
    html = response.content.decode()
    assert response.status_code == 200
    order = [html.index(f'id="result-{i.pk}"') for i in (critical, old_normal, young_normal)]
    assert order == sorted(order) and f'id="result-{elsewhere.pk}"' not in html
    assert "Unassigned" in html and "Acknowledge selected normal results" in html
    logged = set(AccessLog.objects.filter(user=dr, action="list").values_list("what", flat=True))
    assert logged == {f"result:{i.pk}" for i in (critical, old_normal, young_normal)}


def test_item_page_shows_values_ranges_and_previous_results_of_the_same_test(client, dr, own_site):
    from tests.plugins.ehr_store import source_make

    item = result_make(own_site, criticality="abnormal", assignee=dr)
    store_make("Observation", "earlier", source=source_make(SOURCE), status="final", code=item.code,
               subject_ref=item.patient_ref, value_number=4.4, value_unit="mmol/L",
               issued=timezone.now() - timedelta(days=90))  # fmt: skip
    client.force_login(dr)
    html = client.get(reverse("results:detail", args=[item.pk])).content.decode()
    assert "5.2" in html and "3.9–6.1" in html and "4.4 mmol/L" in html and "Mark reviewed" in html
    assert AccessLog.objects.filter(user=dr, action="view", what=f"result:{item.pk}").exists()


def test_bad_input_redirects_with_the_reason_and_keeps_the_note(client, dr, own_site):
    """Post-redirect-get on a refusal too: Back and reload never resubmit (issue 14)."""
    item = result_make(own_site, assignee=dr)
    client.force_login(dr)
    page = reverse("results:detail", args=[item.pk])
    response = client.post(reverse("results:review", args=[item.pk]),
                           {"follow_up": FollowUp.APPOINTMENT, "note": ""})  # fmt: skip
    assert response.status_code == 302 and response["Location"] == page
    body = client.get(page).content.decode()
    assert "Say what to book" in body
    response = client.post(reverse("results:review", args=[item.pk]), {"note": "Seen, fine"})
    assert response.status_code == 302 and response["Location"] == page
    reloaded = client.get(page)
    assert reloaded.status_code == 200
    assert "Please check the form. Follow-up: This field is required." in reloaded.content.decode()
    assert "Seen, fine" in reloaded.content.decode()  # the note typed comes back, once
    assert "Seen, fine" not in client.get(page).content.decode()
    assert ResultItem.objects.get().state == State.NEW


@pytest.mark.parametrize(
    ("action", "data"),
    [("review", {"follow_up": "none"}), ("take", {}), ("notify", {"method": "phone"}),
     ("follow_up", {"note": "Booked"}), ("close", {}), ("note", {"text": ""}), ("reassign", {"assignee": "0"})],
)  # fmt: skip
def test_every_refused_action_redirects_to_the_result_with_a_message(client, make_user, own_site, action, data):
    item = result_make(own_site, state=State.CLOSED)
    role = Role.CLINICIAN if action in ("review", "take") else Role.SUPERVISOR
    user = make_user(role, sites=[own_site])
    client.force_login(user)
    response = client.post(reverse(f"results:{action}", args=[item.pk]), data, follow=True)
    assert response.redirect_chain == [(reverse("results:detail", args=[item.pk]), 302)]
    shown = [str(m) for m in response.context["messages"]]
    assert len(shown) == 1 and shown[0], shown
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", shown[0]), shown[0]  # no internal word in the message


def test_a_stale_action_redirects_and_says_where_the_result_is(client, ma, own_site):
    item = result_make(own_site, state=State.CLOSED)
    client.force_login(ma)
    response = client.post(reverse("results:notify", args=[item.pk]), {"method": "phone"}, follow=True)
    assert response.redirect_chain == [(reverse("results:detail", args=[item.pk]), 302)]
    assert "This result is closed: “Record notification” is not possible now." in response.content.decode()


def test_an_ma_records_the_notification_from_the_worklist(client, ma, own_site):
    item = result_make(own_site, state=State.REVIEWED, follow_up=FollowUp.NOTIFY_ONLY)
    client.force_login(ma)
    assert f'id="row-{item.pk}"' in client.get(reverse("results:worklist")).content.decode()
    response = client.post(reverse("results:notify", args=[item.pk]), {"method": "portal", "note": "Portal msg"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.state, item.notification_method) == (State.CLOSED, "portal")


def test_an_old_link_to_a_follow_up_step_opens_the_worklist_filtered_by_its_state(client, ma, own_site):
    booked = result_make(own_site, state=State.PATIENT_NOTIFIED, follow_up=FollowUp.APPOINTMENT)
    to_tell = result_make(own_site, state=State.REVIEWED, follow_up=FollowUp.NOTIFY_ONLY)
    client.force_login(ma)
    response = client.get(reverse("results:worklist"), {"step": "follow_up"})
    assert response.status_code == 302 and response.url == "/results/worklist/?state=patient_notified"
    page = client.get(response.url).content.decode()
    assert f'id="row-{booked.pk}"' in page and f'id="row-{to_tell.pk}"' not in page


def test_bulk_acknowledge_from_the_inbox(client, dr, own_site):
    items = [result_make(own_site, assignee=dr) for _ in range(2)]
    client.force_login(dr)
    response = client.post(reverse("results:acknowledge"), {"items": [i.pk for i in items]}, follow=True)
    assert "Acknowledged 2 normal results" in response.content.decode()
    assert set(ResultItem.objects.values_list("state", flat=True)) == {State.CLOSED}


def test_coverage_form_refuses_a_period_that_ends_first(client, dr, make_user):
    colleague = make_user(Role.CLINICIAN, username="drkim")
    client.force_login(dr)
    response = client.post(reverse("results:coverage"), {"covered_by": colleague.pk,
                           "starts_at": "2030-01-02T09:00", "ends_at": "2030-01-01T09:00"})  # fmt: skip
    assert response.status_code == 400 and "end after it starts" in response.content.decode()
    response = client.post(reverse("results:coverage"), {"covered_by": colleague.pk,
                           "starts_at": "2030-01-01T09:00", "ends_at": "2030-01-05T09:00"}, follow=True)  # fmt: skip
    assert "Cover saved" in response.content.decode()


def test_a_refused_cover_redirects_with_the_reason(client, dr, make_user):
    """A refusal (here: the period is already over) is post-redirect-get: reload never resubmits."""
    colleague = make_user(Role.CLINICIAN, username="drkim")
    client.force_login(dr)
    response = client.post(reverse("results:coverage"), {"covered_by": colleague.pk,
                           "starts_at": "2020-01-01T09:00", "ends_at": "2020-01-05T09:00"})  # fmt: skip
    assert response.status_code == 302 and response.url == reverse("results:coverage")
    page = client.get(response.url).content.decode()
    assert "That period is already over." in page
    assert not Coverage.objects.filter(clinician=dr).exists()


def test_coverage_offers_the_clinicians_of_the_same_sites_or_says_why_nobody(client, make_user, own_site, other_site):
    dr = make_user(Role.CLINICIAN, username="drlee", sites=[own_site])
    client.force_login(dr)
    alone = client.get(reverse("results:coverage")).content.decode()
    assert "No other clinician works at your sites" in alone and "Save cover" not in alone
    make_user(Role.CLINICIAN, username="drfar", first_name="Far", last_name="Away", sites=[other_site])
    make_user(Role.MEDICAL_ASSISTANT, username="maria", first_name="Maria", last_name="Assistant", sites=[own_site])
    make_user(Role.CLINICIAN, username="drkim", first_name="Kim", last_name="Near", sites=[own_site])
    page = client.get(reverse("results:coverage")).content.decode()
    assert "Kim Near" in page and "Save cover" in page
    assert "Far Away" not in page and "Maria Assistant" not in page


@pytest.mark.parametrize("count", [3, 30])
def test_the_inbox_costs_the_same_queries_for_3_or_30_results(
    client, dr, own_site, count, django_assert_max_num_queries
):
    for n in range(count):
        result_make(own_site, criticality=("critical", "abnormal", "normal")[n % 3], assignee=dr)
    client.force_login(dr)
    # measured for 3 and for 30 (SQLite): the session, the user, the sites, the roles with their
    # permissions, the break-glass grants, the results, their patients, one access-log INSERT
    # (sealed by the sweep), the header's unread count and the sign-in's first save of the idle
    # clock (3); PostgreSQL may count one more
    with django_assert_max_num_queries(13 if connection.vendor == "postgresql" else 12):
        assert client.get(reverse("results:inbox")).status_code == 200


def test_a_supervisor_gives_an_escalated_result_to_a_clinician_of_its_site(client, make_user, own_site):
    boss = make_user(Role.SUPERVISOR, username="boss")
    drkim = make_user(Role.CLINICIAN, username="drkim", first_name="Kim", last_name="Park")
    item = result_make(own_site, criticality="critical", state=State.ESCALATED, queue="supervisor")
    client.force_login(boss)
    listed = client.get(reverse("results:worklist"), {"step": "escalated"}, follow=True).content.decode()
    assert f'id="row-{item.pk}"' in listed
    page = client.get(reverse("results:detail", args=[item.pk])).content.decode()
    assert "Give the result to them" in page and "Kim Park" in page
    response = client.post(reverse("results:reassign", args=[item.pk]), {"assignee": drkim.pk, "note": "on call"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.assignee, item.queue) == (drkim, "review")
