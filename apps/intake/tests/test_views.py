"""The day view, one-click checklist actions (htmx), the item page, the checklist page and the API."""

import re

import pytest
from django.urls import reverse

from apps.core.models import AccessLog
from apps.core.roles import Role
from apps.intake.models import ChecklistItem, Intake
from apps.intake.workflow import State
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.intake import intake_make, ma

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def site():
    return SiteFactory(code="north", name="North Clinic", timezone="America/New_York")


@pytest.fixture
def user(client, site):
    user = ma(site)
    client.force_login(user)
    return user


def row_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'id="intake-(\d+)"', response.content.decode())]


def test_the_day_view_lists_todays_visits_in_time_order_with_missing_items_in_words(client, user, site):
    late, early = intake_make(site, days=0, hour=15), intake_make(site, days=0, hour=8)
    intake_make(site, days=1)  # tomorrow: not today
    response = client.get(reverse("intake:day"), {"site": "north", "day": "today"})
    assert response.status_code == 200
    assert row_ids(response) == [early.pk, late.pk]
    body = response.content.decode()
    assert "08:00" in body and "15:00" in body  # site time, not UTC
    assert "Insurance eligibility checked" in body and "0 of 2 ready" in body
    assert AccessLog.objects.filter(user=user, action="list", what=f"intake:{early.pk}").exists()
    later_first = client.get(reverse("intake:day"), {"site": "north", "day": "today", "sort": "-time"})
    assert row_ids(later_first) == [late.pk, early.pk]


def test_the_front_desk_sees_any_day_with_previous_and_next_day_links(client, user, site):
    """Issue 14: the day view offered only today and tomorrow."""
    from datetime import timedelta

    from apps.intake.selectors import site_today

    in_three_days, last_week = intake_make(site, days=3, hour=9), intake_make(site, days=-7, hour=10)
    today = site_today(site)
    on = today + timedelta(days=3)
    response = client.get(reverse("intake:day"), {"site": "north", "day": on.isoformat()})
    assert row_ids(response) == [in_three_days.pk]
    body = response.content.decode()
    assert f'value="{on.isoformat()}"' in body and 'type="date"' in body  # the date picker shows the day
    previous = f"/intake/?site=north&amp;day={(on - timedelta(days=1)).isoformat()}&amp;sort=time"
    following = f"/intake/?site=north&amp;day={(on + timedelta(days=1)).isoformat()}&amp;sort=time"
    assert f'href="{previous}"' in body and f'href="{following}"' in body
    assert 'data-action="check_in"' not in body  # not yet the visit day
    past = client.get(reverse("intake:day"), {"site": "north", "day": (today - timedelta(days=7)).isoformat()})
    assert row_ids(past) == [last_week.pk]
    assert 'data-action="check_in"' in past.content.decode() and 'data-action="no_show"' in past.content.decode()
    bad = client.get(reverse("intake:day"), {"site": "north", "day": "someday"})
    assert bad.status_code == 200 and "Enter a date such as 2026-12-09. Showing today instead." in bad.content.decode()


def test_the_front_desk_marks_a_no_show_from_the_day_view(client, user, site):
    from apps.ehr.models import OutboxMessage

    intake = intake_make(site, days=0, hour=23)
    back = "/intake/?site=north&day=today"
    response = client.post(reverse("intake:act", args=[intake.pk, "no_show"]), {"where": "day", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    assert Intake.objects.get(pk=intake.pk).state == State.NO_SHOW
    told = OutboxMessage.objects.get(resource_type="Appointment")
    assert (told.resource_id, told.changes) == (intake.appointment.fhir_id, {"status": "noshow"})


def test_the_day_view_reads_the_same_number_of_queries_for_3_or_12_visits(client, user, site):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("intake:day"), {"site": "north", "day": "tomorrow"}).status_code == 200
        return len(captured)

    for hour in (8, 9, 10):
        intake_make(site, days=1, hour=hour)
    queries()  # the session's first request also saves its idle clock (then at most once a minute)
    few = queries()
    for hour in range(11, 20):
        intake_make(site, days=1, hour=hour)
    assert queries() == few


def test_tomorrow_and_readiness_sort(client, user, site):
    a, b = intake_make(site, days=1, hour=8), intake_make(site, days=1, hour=9)
    for key in ("demographics", "insurance"):
        b.checks.filter(key=key).update(done_at=b.opened_at)
    a.checks.update(done_at=a.opened_at)
    response = client.get(reverse("intake:day"), {"site": "north", "day": "tomorrow", "sort": "readiness"})
    assert row_ids(response) == [b.pk, a.pk]  # the least ready first


def test_one_click_ticks_an_item_and_refreshes_the_day_table_and_its_counts(client, user, site):
    intake, other = intake_make(site, days=1, hour=9), intake_make(site, days=1, hour=10)
    intake.checks.exclude(key="demographics").update(done_at=intake.opened_at)
    url = reverse("intake:check", args=[intake.pk, "demographics"])
    back = "/intake/?site=north&day=tomorrow&sort=-time"
    response = client.post(url, {"done": "1", "where": "day", "next": back}, **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert row_ids(response) == [other.pk, intake.pk]  # the table as the user had it (latest first)
    assert "1 of 2 ready" in body and "All done" in body
    assert Intake.objects.get(pk=intake.pk).state == State.READY


def test_get_changes_nothing_and_another_sites_intake_is_not_found(client, user, site):
    elsewhere = intake_make(SiteFactory(code="south"))
    assert client.get(reverse("intake:check", args=[elsewhere.pk, "demographics"])).status_code == 405
    assert client.post(reverse("intake:check", args=[elsewhere.pk, "demographics"])).status_code == 404
    assert client.get(reverse("intake:detail", args=[elsewhere.pk])).status_code == 404


def test_a_refused_action_says_why_in_the_flash_area(client, user, site):
    intake = intake_make(site)
    client.post(reverse("intake:act", args=[intake.pk, "cancel"]), {"reason": "Moved away"})
    response = client.post(reverse("intake:check", args=[intake.pk, "demographics"]), {"done": "1"}, **HTMX)
    assert response.status_code == 409 and response["HX-Retarget"] == "#flash"
    assert "cancelled" in response.content.decode()
    other = intake_make(site)
    blank = client.post(reverse("intake:act", args=[other.pk, "cancel"]), {"reason": ""}, follow=True)
    assert blank.redirect_chain == [(reverse("intake:detail", args=[other.pk]), 302)]  # post-redirect-get
    assert "Say why the intake is cancelled." in blank.content.decode()


def test_the_item_page_shows_the_patient_and_is_access_logged(client, user, site):
    intake = intake_make(site)
    response = client.get(reverse("intake:detail", args=[intake.pk]))
    assert response.status_code == 200 and "Family" in response.content.decode()
    assert AccessLog.objects.filter(user=user, action="view", what=f"intake:{intake.pk}").exists()


def test_outreach_from_the_item_page(client, user, site):
    intake = intake_make(site)
    response = client.post(reverse("intake:outreach", args=[intake.pk]), {"channel": "sms", "outcome": "reached"},
                           **HTMX)  # fmt: skip
    assert response.status_code == 200 and "Text message: Reached the patient" in response.content.decode()
    bad = client.post(reverse("intake:outreach", args=[intake.pk]), {"channel": "pigeon", "outcome": "reached"})
    assert bad.status_code == 302 and bad.url == reverse("intake:detail", args=[intake.pk])
    assert Intake.objects.get(pk=intake.pk).outreach_attempts == 1


def test_a_supervisor_adds_a_site_line_and_new_intakes_get_it(client, site):
    supervisor = UserFactory(role=Role.SUPERVISOR, sites=[site])
    client.force_login(supervisor)
    response = client.post(reverse("intake:checklists"), {
        "site": str(site.pk), "appointment_type": "", "key": "photo-id", "label": "Photo ID on file",
        "position": "60", "active": "on",
    })  # fmt: skip
    assert response.status_code == 302
    assert ChecklistItem.objects.get(key="photo-id").site == site
    assert "Photo ID on file" in [c.label for c in intake_make(site).checks.all()]
    invalid = client.post(reverse("intake:checklists"), {"site": str(site.pk), "key": "bad key!", "label": ""})
    assert invalid.status_code == 400 and ChecklistItem.objects.filter(site=site).count() == 1


def test_api_day_list_and_actions(client, user, site):
    intake = intake_make(site, days=0, hour=11)
    listed = client.get("/api/intake/", {"site": "north", "day": "today"})
    assert listed.status_code == 200
    [item] = listed.json()
    assert item["id"] == intake.pk and item["patient"]["family"].startswith("Family")
    assert "Consents signed" in item["missing"]
    ticked = client.post(f"/api/intake/{intake.pk}/check", {"key": "consents"}, content_type="application/json")
    assert ticked.status_code == 200 and "Consents signed" not in ticked.json()["missing"]
    bad = client.post(f"/api/intake/{intake.pk}/check", {"key": "nope"}, content_type="application/json")
    assert bad.status_code == 400
    assert client.get("/api/intake/", {"day": "someday"}).status_code == 400
    checked = client.post(f"/api/intake/{intake.pk}/check-in", content_type="application/json")
    assert checked.status_code == 200 and checked.json()["state"] == "checked_in"
    again = client.post(f"/api/intake/{intake.pk}/check-in", content_type="application/json")
    assert again.status_code == 409
