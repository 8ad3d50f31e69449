"""Retention per source: processed payloads past the period are pruned daily; dead letters,
unprocessed messages and anything under legal hold stay; each run's counts are recorded and shown."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from apps.core.roles import Role
from apps.ehr.models import InboxEnvelope, InboxMessage, OutboxMessage, RetentionRun
from apps.ehr.selectors import retention_summary
from apps.ehr.services.retention import retention_prune
from apps.ehr.tasks import retention_prune_task
from tests.plugins.core import UserFactory
from tests.plugins.ehr_messages import inbox_make, outbox_make, source_make

pytestmark = pytest.mark.django_db
Status = InboxMessage.Status


@pytest.fixture
def admin_client(client, own_site):
    client.force_login(UserFactory(role=Role.INTEGRATION_ADMIN, sites=[own_site]))
    return client


def days_ago(days: float):
    return timezone.now() - timedelta(days=days)


def envelope(source, days: float) -> InboxEnvelope:
    return InboxEnvelope.objects.create(
        source=source, sha256="0" * 64, correlation_id="c", raw=b"{}", received_at=days_ago(days)
    )


def test_pruning_removes_old_processed_payloads_and_keeps_dead_held_unprocessed_and_recent():
    source = source_make("retained", retention_days=30)
    old_delivery, held_delivery = envelope(source, 40), envelope(source, 40)
    gone = [
        inbox_make(source=source, status=Status.PROCESSED, received_at=days_ago(40), envelope=old_delivery),
        inbox_make(source=source, status=Status.PROCESSED, received_at=days_ago(31)),
    ]
    kept = {
        "recent": inbox_make(source=source, status=Status.PROCESSED, received_at=days_ago(29)),
        "dead": inbox_make(source=source, status=Status.DEAD, received_at=days_ago(400)),
        "held": inbox_make(
            source=source, status=Status.PROCESSED, received_at=days_ago(400), legal_hold=True, envelope=held_delivery
        ),
        "failed": inbox_make(source=source, status=Status.FAILED, received_at=days_ago(40)),
        "received": inbox_make(source=source, status=Status.RECEIVED, received_at=days_ago(40)),
    }
    sent_old = outbox_make(source=source, status=OutboxMessage.Status.SENT, created_at=days_ago(40))
    sent_recent = outbox_make(source=source, status=OutboxMessage.Status.SENT, created_at=days_ago(2))
    dead_out = outbox_make(source=source, status=OutboxMessage.Status.DEAD, created_at=days_ago(40))
    # Another source keeps everything: no period set; a third is under legal hold.
    forever = inbox_make(source=source_make("forever"), status=Status.PROCESSED, received_at=days_ago(4000))
    held_source = source_make("litigation", retention_days=1, legal_hold=True)
    on_hold = inbox_make(source=held_source, status=Status.PROCESSED, received_at=days_ago(4000))

    [run] = retention_prune()

    assert not InboxMessage.objects.filter(pk__in=[m.pk for m in gone]).exists()
    assert set(InboxMessage.objects.filter(source=source).values_list("pk", flat=True)) == {m.pk for m in kept.values()}
    assert InboxMessage.objects.filter(pk__in=[forever.pk, on_hold.pk]).count() == 2
    assert list(InboxEnvelope.objects.filter(source=source).values_list("pk", flat=True)) == [held_delivery.pk]
    payloads = dict(OutboxMessage.objects.values_list("pk", "changes"))
    assert payloads[sent_old.pk] == {}  # the row stays (its dedupe key), the payload goes
    assert payloads[sent_recent.pk] and payloads[dead_out.pk]
    assert (run.source, run.messages_removed, run.deliveries_removed, run.outbox_payloads_cleared) == (
        source, 2, 1, 1
    )  # fmt: skip
    assert (run.held_kept, run.dead_kept) == (1, 1)
    assert retention_prune() and RetentionRun.objects.filter(source=source).count() == 2  # a second run is a no-op
    assert RetentionRun.objects.filter(source=source).order_by("-id").first().messages_removed == 0


def test_the_daily_task_is_on_beat_and_reports_what_it_removed():
    source = source_make("daily", retention_days=7)
    inbox_make(source=source, status=Status.PROCESSED, received_at=days_ago(8))
    assert settings.CELERY_BEAT_SCHEDULE["ehr-retention-prune"] == {
        "task": "ehr.retention_prune",
        "schedule": 86400.0,
    }
    assert retention_prune_task.delay().get() == 1


def test_the_source_page_says_the_retention_in_plain_words(admin_client):
    source = source_make("shown", retention_days=90)
    url = reverse("admin:ehr_ehrsource_change", args=[source.pk])
    assert "Processed messages are kept 90 days" in admin_client.get(url).content.decode()
    assert retention_summary(source=source).endswith("Not pruned yet.")
    inbox_make(source=source, status=Status.PROCESSED, received_at=days_ago(100))
    inbox_make(source=source, status=Status.DEAD, received_at=days_ago(100))
    retention_prune()
    page = admin_client.get(url).content.decode()
    assert "1 message and 0 deliveries removed" in page and "kept 0 held and 1 dead letter." in page
    source.legal_hold = True
    source.save()
    assert "Under legal hold" in admin_client.get(url).content.decode()


def test_a_message_placed_under_legal_hold_from_the_console_survives_pruning(admin_client):
    source = source_make("holding", retention_days=1)
    message = inbox_make(source=source, status=Status.PROCESSED, received_at=days_ago(5))
    url = reverse("ehr:inbox_hold", args=[message.pk])
    response = admin_client.post(url, {"hold": "1"})
    assert response.status_code == 302 and response["Location"] == reverse("ehr:inbox_detail", args=[message.pk])
    page = admin_client.get(response["Location"]).content.decode()
    assert "under legal hold: the daily pruning will keep it" in page and "Lift the legal hold" in page
    retention_prune()
    assert InboxMessage.objects.filter(pk=message.pk).exists()
    admin_client.post(url, {"hold": "0"})
    retention_prune()
    assert not InboxMessage.objects.filter(pk=message.pk).exists()
    assert admin_client.post(url, {"hold": "maybe"}).status_code == 400
    assert admin_client.post(reverse("ehr:inbox_hold", args=[10**9]), {"hold": "1"}).status_code == 404
