"""Console reads: filters, keyset pages, status counts and the feed's health figures."""

from datetime import UTC, datetime, timedelta

import pytest
from django.http import Http404

from apps.ehr import selectors
from apps.ehr.models import InboxMessage, OutboxMessage
from tests.plugins.ehr_messages import inbox_make, outbox_make, source_make

pytestmark = pytest.mark.django_db
Status = InboxMessage.Status
UNTIL = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SINCE = UNTIL - timedelta(hours=24)


def processed(source, *, event_at, after_seconds, **fields):
    return inbox_make(
        source=source,
        status=Status.PROCESSED,
        ehr_last_updated=event_at,
        received_at=event_at,
        processed_at=event_at + timedelta(seconds=after_seconds),
        **fields,
    )


# --- health figures -------------------------------------------------------------------


def test_percentile_cont_interpolates_like_postgresql():
    assert selectors.percentile_cont([], 0.5) is None
    assert selectors.percentile_cont([7.0], 0.95) == 7.0
    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert selectors.percentile_cont(values, 0.5) == 30.0
    assert selectors.percentile_cont(values, 0.95) == pytest.approx(48.0)  # 40 + 0.8 × 10
    assert selectors.percentile_cont([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5


def test_integration_stats_on_a_known_set():
    """Five latencies 10..50 s (p50 30 s, p95 48 s); 1 invalid of 8 received; 2 dead open."""
    feed = source_make("feed")
    source_make("quiet")
    event_at = UNTIL - timedelta(hours=3)
    for seconds in (50, 10, 40, 20, 30):
        processed(feed, event_at=event_at, after_seconds=seconds)
    # Left out of the latency: a bulk import (history), no EHR time, processed before the period.
    processed(feed, event_at=event_at, after_seconds=86_400 * 90, channel=InboxMessage.Channel.BULK)
    inbox_make(source=feed, status=Status.PROCESSED, received_at=event_at, processed_at=event_at, ehr_last_updated=None)
    processed(feed, event_at=SINCE - timedelta(hours=2), after_seconds=5)
    # Received in the period but not processed: one payload error, counted as invalid.
    inbox_make(source=feed, status=Status.DEAD, error_code="invalid", received_at=event_at)
    # An old dead letter (still open) and one received after the period (not counted).
    inbox_make(source=feed, status=Status.DEAD, error_code="http_500", received_at=UNTIL - timedelta(days=40))
    inbox_make(source=feed, status=Status.DEAD, received_at=UNTIL + timedelta(minutes=1))

    stats = {s.source_name: s for s in selectors.integration_stats(since=SINCE, until=UNTIL)}

    assert list(stats) == ["feed", "quiet"]
    s = stats["feed"]
    assert (s.received, s.invalid, s.dead_open, s.latency_samples) == (8, 1, 2, 5)
    assert s.latency_p50_seconds == pytest.approx(30.0)
    assert s.latency_p95_seconds == pytest.approx(48.0)
    assert s.error_rate == pytest.approx(1 / 8)
    q = stats["quiet"]
    assert (q.received, q.invalid, q.dead_open, q.latency_samples) == (0, 0, 0, 0)
    assert q.latency_p50_seconds is None and q.error_rate is None


def test_integration_stats_for_one_source_in_four_queries(django_assert_num_queries):
    feed, other = source_make("feed"), source_make("other")
    processed(feed, event_at=UNTIL - timedelta(hours=1), after_seconds=2)
    processed(other, event_at=UNTIL - timedelta(hours=1), after_seconds=9)
    with django_assert_num_queries(4):
        stats = selectors.integration_stats(since=SINCE, until=UNTIL, source_id=feed.pk)
    assert [(s.source_name, s.latency_p50_seconds) for s in stats] == [("feed", pytest.approx(2.0))]


def test_status_counts_per_source_fill_every_status():
    feed = source_make("feed")
    inbox_make(source=feed, status=Status.DEAD)
    inbox_make(source=feed, status=Status.DEAD)
    inbox_make(source=feed, status=Status.PROCESSED)
    outbox_make(source=feed, status=OutboxMessage.Status.FAILED)
    counts = selectors.message_status_counts()[feed.pk]
    assert counts.inbox == {"received": 0, "processed": 1, "failed": 0, "dead": 2}
    assert counts.outbox == {"pending": 0, "sent": 0, "failed": 1, "dead": 0}
    assert selectors.message_status_counts(source_id=feed.pk + 100) == {}


# --- lists -----------------------------------------------------------------------------


def test_inbox_filters_each_narrow_the_list():
    feed, other = source_make("feed"), source_make("other")
    t = UNTIL - timedelta(hours=5)
    dead = inbox_make(source=feed, status=Status.DEAD, received_at=t, correlation_id="c-dead")
    obs = inbox_make(
        source=feed,
        resource={"resourceType": "Observation", "id": "o1", "status": "final"},
        received_at=t + timedelta(hours=1),
    )
    elsewhere = inbox_make(source=other, received_at=t - timedelta(days=2))

    def ids(**filters):
        return [m.pk for m in selectors.inbox_list(filters=filters).items]

    assert ids() == [obs.pk, dead.pk, elsewhere.pk]
    assert ids(status="dead") == [dead.pk]
    assert ids(source_id=other.pk) == [elsewhere.pk]
    assert ids(resource_type="Observation") == [obs.pk]
    assert ids(correlation_id="c-dead") == [dead.pk]
    assert ids(since=t) == [obs.pk, dead.pk]
    assert ids(since=t, until=t) == [dead.pk]  # both ends inclusive
    assert selectors.inbox_dead_count(filters={"source_id": feed.pk}) == 1
    assert selectors.inbox_dead_count(filters={"status": "failed"}) == 0


def test_keyset_pages_are_newest_first_and_never_skip_or_repeat_a_tie():
    feed = source_make("feed")
    same = UNTIL - timedelta(minutes=5)
    # Five rows share one timestamp (a Bundle's entries), so the page edge falls inside a tie.
    rows = [inbox_make(source=feed, received_at=same) for _ in range(5)]
    rows += [inbox_make(source=feed, received_at=same - timedelta(seconds=i)) for i in range(1, 4)]
    expected = [m.pk for m in sorted(rows, key=lambda m: (m.received_at, m.pk), reverse=True)]

    seen, after, pages = [], None, 0
    while True:
        page = selectors.inbox_list(filters={}, after=after, limit=3)
        assert page.first == (after is None)
        seen += [m.pk for m in page.items]
        pages += 1
        if not page.next_cursor:
            break
        after = page.next_cursor
    assert seen == expected and pages == 3


def test_a_malformed_cursor_is_the_first_page():
    feed = source_make("feed")
    newest = inbox_make(source=feed)
    for cursor in ("", "garbage", "1_2_3", "99999999999999999999999_1"):
        page = selectors.inbox_list(filters={}, after=cursor)
        assert page.first and page.items[0].pk == newest.pk


def test_cursor_round_trips_to_the_microsecond():
    at = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert selectors.cursor_decode(selectors.cursor_encode(at, 42)) == (at, 42)


def test_a_list_page_is_one_query_without_payloads(django_assert_num_queries):
    feed = source_make("feed")
    for _ in range(5):
        inbox_make(source=feed, status=Status.DEAD)
    with django_assert_num_queries(1):
        page = selectors.inbox_list(filters={})
        rows = [(m.source.name, m.short_error, m.get_status_display()) for m in page.items]
    assert len(rows) == 5 and rows[0][1].startswith("Not valid FHIR R4")
    assert "payload" in page.items[0].get_deferred_fields()


def test_outbox_list_filters_and_pages():
    feed = source_make("feed")
    old = outbox_make(source=feed, status=OutboxMessage.Status.DEAD, created_at=UNTIL - timedelta(days=1))
    new = outbox_make(source=feed, status=OutboxMessage.Status.SENT, created_at=UNTIL)
    assert [m.pk for m in selectors.outbox_list(filters={}).items] == [new.pk, old.pk]
    assert [m.pk for m in selectors.outbox_list(filters={"status": "dead"}).items] == [old.pk]
    first = selectors.outbox_list(filters={}, limit=1)
    second = selectors.outbox_list(filters={}, after=first.next_cursor, limit=1)
    assert [m.pk for m in second.items] == [old.pk] and second.next_cursor is None


def test_get_raises_404_for_an_unknown_message():
    with pytest.raises(Http404):
        selectors.inbox_get(message_id=999_999)
    with pytest.raises(Http404):
        selectors.outbox_get(message_id=999_999)


# --- whose data a message is -----------------------------------------------------------


@pytest.mark.parametrize(
    ("resource_type", "resource_id", "document", "expected"),
    [
        ("Patient", "p1", {"resourceType": "Patient", "id": "p1"}, "Patient/p1"),
        ("Patient", "p2", None, "Patient/p2"),  # a delete: no payload, the id says it
        ("Observation", "o1", {"subject": {"reference": "Patient/p3"}}, "Patient/p3"),
        ("Appointment", "a1", {"patient": {"reference": "Patient/p4"}}, "Patient/p4"),
        ("Task", "t1", {"for": {"reference": "https://ehr.example/fhir/Patient/p5/_history/2"}}, "Patient/p5"),
        ("Observation", "o2", {"subject": {"reference": "Group/g1"}}, "unknown"),
        ("Observation", "o3", {"subject": "Patient/p6"}, "unknown"),  # not a Reference
        ("Organization", "org", {"name": "Clinic"}, "unknown"),
        ("Observation", "o4", None, "unknown"),
    ],
)
def test_patient_reference(resource_type, resource_id, document, expected):
    found = selectors.patient_reference(resource_type=resource_type, resource_id=resource_id, document=document)
    assert found == expected


def test_payload_document_tolerates_what_is_not_json():
    assert selectors.payload_document("") is None
    assert selectors.payload_document("{not json") is None
    assert selectors.payload_document('{"a": 1}') == {"a": 1}
