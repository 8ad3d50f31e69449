"""The integration console pages: who gets in, what they show, and that state changes only by
POST (with CSRF), after a confirmation where many messages are touched."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.core.models import AccessLog
from apps.core.roles import Role
from apps.ehr.models import InboxMessage, OutboxMessage
from apps.ehr.services import replay
from apps.ehr.tasks.inbox import inbox_process_task
from tests.plugins.ehr_messages import inbox_make, outbox_make, patient_resource, source_make

pytestmark = pytest.mark.django_db
Status = InboxMessage.Status
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin(make_user):
    return make_user(Role.INTEGRATION_ADMIN, username="ines")


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


@pytest.fixture(autouse=True)
def no_processing():
    """Queued processing is recorded, not run: these tests look at what the console did."""
    with mock.patch.object(inbox_process_task, "delay") as delay:
        yield delay


def text(response):
    return response.content.decode()


# --- who gets in ------------------------------------------------------------------------


GET_PAGES = ["ehr:console", "ehr:inbox_list", "ehr:outbox_list"]


@pytest.mark.parametrize("name", GET_PAGES)
def test_anonymous_is_sent_to_sign_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("role", [Role.SCHEDULER, Role.SUPERVISOR, Role.LEADER, Role.TERMINOLOGY_STEWARD])
def test_other_roles_are_refused(client, make_user, role):
    client.force_login(make_user(role))
    message = inbox_make(status=Status.DEAD)
    for url in [*(reverse(n) for n in GET_PAGES), reverse("ehr:inbox_detail", args=[message.pk])]:
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("ehr:inbox_retry"), {"ids": [message.pk]}).status_code == 403
    assert client.post(reverse("ehr:inbox_replay"), {"confirm": "yes"}).status_code == 403
    message.refresh_from_db()
    assert message.status == Status.DEAD
    assert not AccessLog.objects.exists()


def test_a_superuser_gets_in(client, make_user):
    client.force_login(make_user(None, is_superuser=True))
    assert client.get(reverse("ehr:console")).status_code == 200


def test_the_navigation_shows_integration_to_admins_only(admin_client, client, make_user):
    # Any page shows the navigation (the home redirects integration admins to this console).
    assert 'href="/integrations/"' in text(admin_client.get(reverse("core:sites")))
    other = Client()
    other.force_login(make_user(Role.SCHEDULER))
    assert 'href="/integrations/"' not in text(other.get(reverse("core:home")))


# --- overview ---------------------------------------------------------------------------


def test_overview_shows_figures_and_status_counts_per_source(admin_client):
    feed = source_make("feed")
    source_make("quiet")
    now = timezone.now()
    for seconds in (10, 20, 30):
        inbox_make(
            source=feed,
            status=Status.PROCESSED,
            ehr_last_updated=now - timedelta(minutes=5),
            processed_at=now - timedelta(minutes=5) + timedelta(seconds=seconds),
        )
    inbox_make(source=feed, status=Status.DEAD)
    outbox_make(source=feed, status=OutboxMessage.Status.FAILED)
    response = admin_client.get(reverse("ehr:console"))
    assert response.status_code == 200
    page = text(response)
    assert "feed" in page and "quiet" in page
    assert "20.0 s" in page  # p50 of 10, 20, 30 s
    assert "1 invalid of 4 received" in page and "25.0 %" in page
    assert "/integrations/inbox/?source=feed&amp;status=dead" in page
    assert response.context["sources"][0]["stats"].dead_open == 1


def test_overview_period_selector(admin_client):
    old = timezone.now() - timedelta(days=3)
    inbox_make(source=source_make("feed"), received_at=old)
    day = admin_client.get(reverse("ehr:console"))
    week = admin_client.get(reverse("ehr:console"), {"period": "7d"})
    odd = admin_client.get(reverse("ehr:console"), {"period": "1y"})
    assert day.context["sources"][0]["stats"].received == 0
    assert week.context["sources"][0]["stats"].received == 1 and week.context["period"] == "7d"
    assert odd.context["period"] == "24h"
    assert 'aria-current="true">Last 7 days' in text(week)


def test_overview_without_sources_says_what_to_do(admin_client):
    assert "No EHR sources are set up yet" in text(admin_client.get(reverse("ehr:console")))


# --- inbox list -------------------------------------------------------------------------


def test_inbox_list_filters_by_get_and_shows_rows(admin_client):
    feed = source_make("feed")
    dead = inbox_make(source=feed, status=Status.DEAD, received_at=datetime(2025, 1, 15, 15, 0, tzinfo=UTC))
    done = inbox_make(source=feed, status=Status.PROCESSED)
    response = admin_client.get(reverse("ehr:inbox_list"), {"status": "dead", "source": "feed"})
    assert response.status_code == 200
    assert [m.pk for m in response.context["page"].items] == [dead.pk]
    page = text(response)
    assert "<html" in page  # without htmx: the whole page
    assert "15 Jan 2025, 10:00" in page  # shown in the site's time zone (America/New_York), the one date format
    assert 'class="state-badge state-dead">Dead letter</span>' in page
    assert f'name="ids" value="{dead.pk}"' in page
    assert f"/integrations/inbox/{done.pk}/" not in page


def test_processed_rows_have_no_checkbox(admin_client):
    done = inbox_make(status=Status.PROCESSED)
    page = text(admin_client.get(reverse("ehr:inbox_list")))
    assert f"/integrations/inbox/{done.pk}/" in page and f'value="{done.pk}"' not in page


def test_htmx_filter_change_returns_only_the_results(admin_client):
    inbox_make(status=Status.DEAD)
    response = admin_client.get(reverse("ehr:inbox_list"), {"status": "dead"}, **HTMX)
    page = text(response)
    assert response.status_code == 200 and "<html" not in page and "Retry selected" in page
    assert "HX-Request" in response["Vary"]
    # Going back in history with an empty htmx cache needs the whole page.
    restore = admin_client.get(
        reverse("ehr:inbox_list"), {"status": "dead"}, **HTMX, HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in text(restore)


def test_a_filter_not_understood_is_shown_and_not_applied(admin_client):
    inbox_make(status=Status.DEAD)
    response = admin_client.get(reverse("ehr:inbox_list"), {"status": "zombie", "since": "yesterday"})
    assert response.status_code == 200
    assert len(response.context["page"].items) == 1
    assert "Not applied, because they were not understood" in text(response)


def test_inbox_list_pages_with_a_cursor(admin_client):
    feed = source_make("feed")
    now = timezone.now()
    rows = [inbox_make(source=feed, received_at=now - timedelta(seconds=i)) for i in range(55)]
    first = admin_client.get(reverse("ehr:inbox_list"), {"source": "feed"})
    assert len(first.context["page"].items) == 50
    next_url = first.context["next_url"]
    assert next_url.startswith("/integrations/inbox/?source=feed&after=")
    assert "Older »" in text(first) and "« Newest" not in text(first)
    second = admin_client.get(next_url)
    assert [m.pk for m in second.context["page"].items] == [m.pk for m in rows[50:]]
    assert "« Newest" in text(second) and second.context["next_url"] == ""


def test_inbox_list_queries_do_not_grow_with_rows(admin_client):
    feed, other = source_make("feed"), source_make("other")

    def queries_for_list():
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(reverse("ehr:inbox_list"))
        return len(queries), len(response.context["page"].items)

    inbox_make(source=feed, status=Status.DEAD)
    queries_for_list()  # the session's first request also saves its idle clock (then at most once a minute)
    few, rows = queries_for_list()
    assert rows == 1
    for i in range(30):
        inbox_make(source=feed if i % 2 else other, status=Status.DEAD)
    assert queries_for_list() == (few, 31)


# --- message detail ---------------------------------------------------------------------


def test_detail_shows_the_payload_and_logs_the_access(admin_client, admin):
    message = inbox_make(status=Status.DEAD, resource=patient_resource("p1", family="Doe"))
    response = admin_client.get(reverse("ehr:inbox_detail", args=[message.pk]))
    assert response.status_code == 200
    page = text(response)
    assert "&quot;family&quot;: &quot;Doe&quot;" in page  # pretty-printed, escaped
    assert "Not valid FHIR R4: Patient.status: Field required" in page  # the full error
    assert "Retry this message" in page
    log = AccessLog.objects.get()
    assert (log.user, log.patient, log.what, log.action) == (admin, "Patient/p1", f"inbox:{message.pk}", "view")


def test_detail_finds_the_patient_of_other_resources_or_says_unknown(admin_client):
    obs = inbox_make(resource={"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/p2"}})
    org = inbox_make(resource={"resourceType": "Organization", "id": "org1"})
    broken = inbox_make(status=Status.DEAD, payload="{not json", resource={"resourceType": "Observation", "id": "o9"})
    for message in (obs, org, broken):
        assert admin_client.get(reverse("ehr:inbox_detail", args=[message.pk])).status_code == 200
    assert dict(AccessLog.objects.values_list("what", "patient")) == {
        f"inbox:{obs.pk}": "Patient/p2",
        f"inbox:{org.pk}": "unknown",
        f"inbox:{broken.pk}": "unknown",
    }


def test_a_processed_message_has_no_retry_button(admin_client):
    message = inbox_make(status=Status.PROCESSED)
    assert "Retry this message" not in text(admin_client.get(reverse("ehr:inbox_detail", args=[message.pk])))


def test_an_unknown_message_is_404(admin_client):
    assert admin_client.get(reverse("ehr:inbox_detail", args=[999_999])).status_code == 404
    assert not AccessLog.objects.exists()


# --- retry ------------------------------------------------------------------------------


def test_retry_selected_queues_and_returns_to_the_list(admin_client, no_processing, django_capture_on_commit_callbacks):
    a, b = inbox_make(status=Status.DEAD), inbox_make(status=Status.FAILED)
    done = inbox_make(status=Status.PROCESSED)
    back = "/integrations/inbox/?status=dead"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("ehr:inbox_retry"), {"ids": [a.pk, b.pk, done.pk], "next": back}, follow=True
        )
    assert response.redirect_chain == [(back, 302)]
    assert "Queued 2 messages for retry. 1 other message left alone" in text(response)
    assert sorted(c.args[0] for c in no_processing.call_args_list) == sorted([a.pk, b.pk])
    assert set(InboxMessage.objects.filter(pk__in=[a.pk, b.pk]).values_list("status", flat=True)) == {Status.RECEIVED}


def test_retry_from_the_detail_page(admin_client):
    message = inbox_make(status=Status.DEAD)
    url = reverse("ehr:inbox_detail", args=[message.pk])
    response = admin_client.post(reverse("ehr:inbox_retry"), {"ids": message.pk, "next": url}, follow=True)
    assert response.redirect_chain == [(url, 302)]
    assert "Queued 1 message for retry." in text(response)
    message.refresh_from_db()
    assert message.status == Status.RECEIVED


def test_retry_with_nothing_selected_says_so(admin_client):
    response = admin_client.post(reverse("ehr:inbox_retry"), {}, follow=True)
    assert response.redirect_chain == [("/integrations/inbox/", 302)]
    assert "Select at least one message to retry." in text(response)


def test_retry_never_redirects_off_site(admin_client):
    message = inbox_make(status=Status.DEAD)
    response = admin_client.post(reverse("ehr:inbox_retry"), {"ids": message.pk, "next": "https://evil.example/"})
    assert response["Location"] == "/integrations/inbox/"


@pytest.mark.parametrize("name", ["ehr:inbox_retry", "ehr:inbox_replay", "ehr:outbox_retry"])
def test_get_never_changes_state(admin_client, name):
    message = inbox_make(status=Status.DEAD)
    response = admin_client.get(reverse(name), {"ids": message.pk, "confirm": "yes"})
    assert response.status_code == 405
    message.refresh_from_db()
    assert message.status == Status.DEAD


def test_a_post_without_the_csrf_token_is_refused(admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    message = inbox_make(status=Status.DEAD)
    assert client.post(reverse("ehr:inbox_retry"), {"ids": message.pk}).status_code == 403
    assert client.post(reverse("ehr:inbox_replay"), {"confirm": "yes"}).status_code == 403
    message.refresh_from_db()
    assert message.status == Status.DEAD


def test_a_post_with_the_csrf_header_htmx_sends_is_accepted(admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    page = text(client.get(reverse("ehr:inbox_list")))
    token = page.split('"X-CSRFToken": "')[1].split('"')[0]
    response = client.post(reverse("ehr:inbox_replay"), {}, HTTP_X_CSRFTOKEN=token, **HTMX)
    assert response.status_code == 200 and "No dead letters match" in text(response)


# --- replay -----------------------------------------------------------------------------


def test_replay_shows_the_count_first_and_changes_nothing(admin_client, no_processing):
    feed = source_make("feed")
    dead = [inbox_make(source=feed, status=Status.DEAD) for _ in range(3)]
    inbox_make(source=source_make("other"), status=Status.DEAD)
    response = admin_client.post(reverse("ehr:inbox_replay"), {"source": "feed"})
    assert response.status_code == 200
    page = text(response)
    assert "Replay 3 dead letters?" in page and "source = feed" in page
    assert 'name="confirm" value="yes"' in page and 'name="source" value="feed"' in page
    assert InboxMessage.objects.filter(status=Status.DEAD).count() == 4
    assert not no_processing.called

    with_htmx = admin_client.post(reverse("ehr:inbox_replay"), {"source": "feed"}, **HTMX)
    assert "<html" not in text(with_htmx) and "Replay 3 dead letters?" in text(with_htmx)

    response = admin_client.post(reverse("ehr:inbox_replay"), {"source": "feed", "confirm": "yes"}, follow=True)
    assert response.redirect_chain == [("/integrations/inbox/?source=feed", 302)]
    assert "Queued 3 dead letters for replay." in text(response)
    assert set(InboxMessage.objects.filter(pk__in=[m.pk for m in dead]).values_list("status", flat=True)) == {
        Status.RECEIVED
    }
    assert InboxMessage.objects.filter(status=Status.DEAD).count() == 1

    again = admin_client.post(reverse("ehr:inbox_replay"), {"source": "feed", "confirm": "yes"}, follow=True)
    assert "No dead letters matched this filter; nothing was replayed." in text(again)


def test_replay_refuses_a_filter_it_does_not_understand(admin_client):
    inbox_make(status=Status.DEAD)
    listed = text(admin_client.get(reverse("ehr:inbox_list"), {"since": "last tuesday"}))
    assert "Replay all dead letters" not in listed
    # Step 1 (htmx) explains in place, never a redirect that htmx would paste into the page.
    first = admin_client.post(reverse("ehr:inbox_replay"), {"since": "last tuesday"}, **HTMX)
    assert first.status_code == 200 and "Fix the filters first" in text(first) and 'name="confirm"' not in text(first)
    response = admin_client.post(reverse("ehr:inbox_replay"), {"since": "last tuesday", "confirm": "yes"}, follow=True)
    assert "Fix the filters before replaying" in text(response)
    assert InboxMessage.objects.get().status == Status.DEAD


def test_time_filters_are_in_the_site_time_zone(admin_client):
    message = inbox_make(received_at=datetime(2025, 1, 15, 15, 0, tzinfo=UTC))  # 10:00 in New York

    def listed(**params):
        return [m.pk for m in admin_client.get(reverse("ehr:inbox_list"), params).context["page"].items]

    assert listed(since="2025-01-15T10:00") == [message.pk]
    assert listed(since="2025-01-15T10:01") == []
    assert listed(until="2025-01-15T09:59") == []


def test_replay_explains_a_status_filter_that_is_not_dead(admin_client):
    inbox_make(status=Status.DEAD)
    page = text(admin_client.post(reverse("ehr:inbox_replay"), {"status": "failed"}))
    assert "Only dead letters are replayed" in page


# --- outbox -----------------------------------------------------------------------------


def test_outbox_list_and_detail(admin_client, admin):
    feed = source_make("feed")
    dead = outbox_make(source=feed, status=OutboxMessage.Status.DEAD)
    sent = outbox_make(source=feed, status=OutboxMessage.Status.SENT)
    response = admin_client.get(reverse("ehr:outbox_list"), {"status": "dead"})
    assert [m.pk for m in response.context["page"].items] == [dead.pk]
    assert "HTTP 412: version moved" in text(response)
    assert f'name="ids" value="{dead.pk}"' in text(response)

    detail = admin_client.get(reverse("ehr:outbox_detail", args=[dead.pk]))
    assert detail.status_code == 200 and "Retry this message" in text(detail)
    assert "&quot;status&quot;: &quot;accepted&quot;" in text(detail)
    log = AccessLog.objects.get()
    assert (log.user, log.patient, log.what) == (admin, dead.changes["for"]["reference"], f"outbox:{dead.pk}")
    assert "Retry this message" not in text(admin_client.get(reverse("ehr:outbox_detail", args=[sent.pk])))


def test_outbox_retry_calls_the_outbox_service(admin_client, admin, monkeypatch):
    dead = outbox_make(status=OutboxMessage.Status.DEAD)
    calls = []

    def fake_retry(*, message_ids, by):
        calls.append((message_ids, by))
        return len(message_ids)

    monkeypatch.setattr(replay, "outbox_retry", fake_retry)
    response = admin_client.post(reverse("ehr:outbox_retry"), {"ids": [dead.pk]}, follow=True)
    assert response.redirect_chain == [("/integrations/outbox/", 302)]
    assert "Queued 1 message for retry." in text(response)
    assert calls == [([dead.pk], admin)]
