"""Staff notifications (apps.notifications) end to end, here because the events come from
results, the EHR feed and terminology: an event in a workflow → a notification → an email that a real
SMTP server on 127.0.0.1 receives, once, without patient data; repeats, preferences, digests,
retries after a failure."""

from datetime import timedelta
from email import message_from_bytes
from types import SimpleNamespace

import pytest
from django.utils import timezone

from apps.core.events import EventKind, StaffEvent, event_emit
from apps.core.roles import Role
from apps.ehr.models import OutboxMessage
from apps.notifications.models import EmailDelivery, Notification
from apps.notifications.services import digest_send, email_send, preferences_save
from apps.notifications.watch import integration_watch
from apps.results.models import ResultItem
from apps.terminology.hooks import review_announce
from apps.workflow.services import item_reassign, sla_sweep
from tests.plugins.ehr_messages import inbox_make, outbox_make, source_make
from tests.plugins.results import result_make
from tests.plugins.smtp import free_port, received, smtp_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def smtp(tmp_path, settings):
    maildir = tmp_path / "mail"
    with smtp_server(maildir) as port:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
        settings.CLINOPS_BASE_URL = "https://clinops.example.org"
        yield SimpleNamespace(port=port, mail=lambda: received(maildir))


def _overdue_critical(site, **fields):
    item = result_make(site, criticality="critical", **fields)
    ResultItem.objects.filter(pk=item.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    return item


def test_critical_result_escalated_emails_the_supervisor_without_patient_data(smtp, own_site, other_site, make_user):
    supervisor = make_user(Role.SUPERVISOR, email="sup@example.org")
    make_user(Role.SUPERVISOR, sites=[other_site], email="elsewhere@example.org")
    # Email about escalations switched off: a critical result is notified all the same.
    preferences_save(user=supervisor, choices={(EventKind.ITEM_ESCALATED, "email"): False}, digest=True)
    item = _overdue_critical(own_site)

    assert sla_sweep() == 1

    notification = Notification.objects.get(user=supervisor)
    assert notification.critical and notification.title == "A critical result was escalated to the supervisor queue"
    assert not Notification.objects.exclude(user=supervisor).exists()  # not the other site's supervisor
    [raw] = smtp.mail()
    message = message_from_bytes(raw)
    assert message["To"] == "sup@example.org"
    assert message["Message-ID"] == f"<notification-{EmailDelivery.objects.get().pk}@clinops.localhost>"
    body = message.get_payload(decode=True).decode()
    assert f"https://clinops.example.org/notifications/{notification.pk}/" in body
    assert "escalated to the supervisor queue" in body
    for phi in (item.patient_ref, item.patient_ref.split("/")[1], item.code_display, item.resource_id, "Family"):
        assert phi.encode() not in raw
    assert EmailDelivery.objects.get().status == EmailDelivery.Status.SENT


def test_repeats_are_one_notification_and_one_email(smtp, make_user):
    admin = make_user(Role.INTEGRATION_ADMIN, sites=[], email="ops@example.org")
    source = source_make("watch-ehr")
    for _ in range(3):
        outbox_make(source=source, status=OutboxMessage.Status.DEAD)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("django.conf.settings.NOTIFY_DEAD_LETTER_THRESHOLD", 3)
        now = timezone.now().replace(minute=1)
        assert integration_watch(now=now) == 1
        assert integration_watch(now=now + timedelta(minutes=5)) == 1  # the same hour: a repeat

    notification = Notification.objects.get(user=admin)
    assert notification.kind == EventKind.DEAD_LETTERS and notification.repeats == 1
    assert notification.title == "3 EHR messages are dead letters and wait for a retry"
    assert len(smtp.mail()) == 1


def test_a_silent_feed_is_told_once_per_silence(make_user, settings):
    admin = make_user(Role.INTEGRATION_ADMIN, sites=[])
    settings.NOTIFY_FEED_SILENT_MINUTES = 30
    source = source_make("quiet-ehr")
    inbox_make(source=source, received_at=timezone.now() - timedelta(minutes=20))
    assert integration_watch() == 0
    assert integration_watch(now=timezone.now() + timedelta(minutes=15)) == 1
    integration_watch(now=timezone.now() + timedelta(minutes=25))
    [notification] = Notification.objects.filter(user=admin)
    assert "“quiet-ehr” has sent nothing for 35 minutes" in notification.title


def test_failed_send_is_retried_with_backoff_and_never_sent_twice(tmp_path, settings, make_user):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_TIMEOUT = "127.0.0.1", 2
    settings.EMAIL_PORT = free_port()  # nobody listens there: the first attempt fails
    steward = make_user(Role.TERMINOLOGY_STEWARD, sites=[], email="steward@example.org")
    author = make_user(Role.TERMINOLOGY_STEWARD, sites=[], email="author@example.org")
    review_announce(SimpleNamespace(pk=7, submitted_at=timezone.now()), by=author)

    delivery = EmailDelivery.objects.get()
    assert delivery.user == steward  # the submitter is not asked to approve their own version
    assert delivery.status == EmailDelivery.Status.FAILED and delivery.attempts == 1
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=20)  # backed off
    assert "ConnectionRefusedError" in delivery.last_error
    assert email_send(delivery_id=delivery.pk) == EmailDelivery.Status.FAILED  # not due yet: no attempt
    assert EmailDelivery.objects.get().attempts == 1

    with smtp_server(tmp_path / "mail") as port:
        settings.EMAIL_PORT = port
        EmailDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        assert email_send(delivery_id=delivery.pk) == EmailDelivery.Status.SENT
        assert email_send(delivery_id=delivery.pk) == EmailDelivery.Status.SENT  # a second run sends nothing
        assert len(received(tmp_path / "mail")) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and [f["attempt"] for f in delivery.failures] == [1]


def test_the_last_failed_attempt_is_visible_to_integration_admins(settings, make_user, client):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_TIMEOUT, settings.EHR_MAX_ATTEMPTS = "127.0.0.1", 2, 1
    settings.EMAIL_PORT = free_port()
    supervisor = make_user(Role.SUPERVISOR, email="sup@example.org")
    _overdue_critical(supervisor.sites.get())
    sla_sweep()
    assert EmailDelivery.objects.get().status == EmailDelivery.Status.DEAD  # one attempt allowed here
    client.force_login(make_user(Role.INTEGRATION_ADMIN, sites=[]))
    page = client.get("/admin/notifications/emaildelivery/?status__exact=dead")
    assert page.status_code == 200 and b"Failed for good" in page.content and b"ConnectionRefusedError" in page.content


def test_preferences_and_digest(make_user, own_site, mailoutbox):
    scheduler = make_user(Role.SCHEDULER, email="s@example.org")
    supervisor = make_user(Role.SUPERVISOR)
    first, second = result_make(own_site), result_make(own_site)
    ma = make_user(Role.MEDICAL_ASSISTANT, email="ma@example.org")

    item_reassign(workflow="result", item_id=first.pk, to=ma, by=supervisor)
    assert Notification.objects.get(user=ma).title == "A result was given to you"
    assert not EmailDelivery.objects.exists()  # assignments are in the app only by default

    preferences_save(user=ma, choices={(EventKind.ITEM_ASSIGNED, "email"): True}, digest=True)
    item_reassign(workflow="result", item_id=second.pk, to=ma, by=supervisor)
    event_emit(StaffEvent(kind=EventKind.WAITLIST_OFFER, title="A wait-list offer waits", user_ids=(scheduler.pk,)))
    assert not EmailDelivery.objects.filter(user=ma).exists()  # held for the digest
    assert digest_send() == 1
    [digest] = [m for m in mailoutbox if m.to == ["ma@example.org"]]
    assert "An item is given to me: 1" in digest.body and "/notifications/" in digest.body
    assert digest_send() == 0
    assert Notification.objects.filter(user=scheduler, kind=EventKind.WAITLIST_OFFER).exists()
    assert not Notification.objects.filter(user=supervisor).exists()  # who did it is not told


def test_sla_warning_once_per_due_time(make_user, own_site):
    ma = make_user(Role.MEDICAL_ASSISTANT)
    item = result_make(own_site, assignee=ma)
    ResultItem.objects.filter(pk=item.pk).update(warn_at=timezone.now() - timedelta(minutes=1))
    sla_sweep()
    sla_sweep()
    [notification] = Notification.objects.filter(user=ma)
    assert notification.kind == EventKind.SLA_WARNING and notification.title == "A result of yours is near its due time"
    assert notification.link == f"/results/{item.pk}/"
