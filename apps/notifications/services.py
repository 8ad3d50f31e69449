"""Staff notifications: one function per use case.

    staff_event_receive — an event (apps.core.events) becomes a notification per person, and an
                          email delivery where they want one, in the event's transaction
    notification_read   — mark one (or all) of a person's notifications read
    preferences_save    — a person's choices per kind and channel, and the digest
    email_send          — claim one delivery, send it outside any transaction, record the result
    email_relay         — queue every delivery whose (next) attempt is due (beat)
    email_retry         — put failed deliveries back in line (integration admins)
    digest_send         — one email per digest user with what waited since the last one (beat)

Repeats: the same ``dedupe_key`` again for the same person adds nothing new (no second row, no
second email); for alarms that count (dead letters, a silent feed) the repeat is counted and the
notification shows as unread again. Emails name what kind of thing waits and link to the
notification behind sign-in, never patient data (the event carries none).
"""

import logging
from datetime import datetime
from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apps.core.events import StaffEvent
from apps.core.models import User

from .delivery import delivery_claim, delivery_due, delivery_record, delivery_retry
from .models import Channel, DigestChoice, EmailDelivery, Kind, Notification, Preference
from .preferences import DEFAULTS, preferences_of, wants

logger = logging.getLogger(__name__)
Status = EmailDelivery.Status
COUNTED_REPEATS = frozenset({Kind.DEAD_LETTERS, Kind.FEED_SILENT})


def _recipients(event: StaffEvent) -> list[User]:
    users = User.objects.filter(is_active=True)
    if event.user_ids:
        users = users.filter(pk__in=event.user_ids)
    elif event.role:
        users = users.filter(groups__name=event.role)
        if event.site_id is not None:
            users = users.filter(sites=event.site_id)
    else:
        return []
    return list(users.exclude(pk__in=event.exclude_user_ids).distinct())


def staff_event_receive(event: StaffEvent) -> list[Notification]:
    """Notify each recipient of an event as their preferences say (critical: always), in the
    caller's transaction; their emails are queued after it commits. Returns the new notifications."""
    created: list[Notification] = []
    with transaction.atomic():
        for user in _recipients(event):
            notification = _notify(user, event)
            if notification is not None:
                created.append(notification)
    return created


def _notify(user: User, event: StaffEvent) -> Notification | None:
    now = timezone.now()
    if event.dedupe_key:
        existing = Notification.objects.filter(user=user, dedupe_key=event.dedupe_key).first()
        if existing is not None:
            if event.kind in COUNTED_REPEATS:
                Notification.objects.filter(pk=existing.pk).update(
                    repeats=existing.repeats + 1, last_at=now, read_at=None
                )
            return None
    prefs = preferences_of(user)
    in_app = wants(prefs, event.kind, Channel.IN_APP, critical=event.critical)
    email = wants(prefs, event.kind, Channel.EMAIL, critical=event.critical) and bool(user.email)
    if not in_app and not email:
        return None
    digest = email and not event.critical and DigestChoice.objects.filter(user=user, digest=True).exists()
    fields = {
        "user": user, "kind": event.kind, "title": event.title[:200], "link": event.link[:300],
        "critical": event.critical, "dedupe_key": event.dedupe_key[:200], "in_app": in_app,
        "email_pending": digest, "created_at": now, "last_at": now,
    }  # fmt: skip
    try:
        with transaction.atomic():  # a savepoint: losing a race to a twin event is not an error
            notification = Notification.objects.create(**fields)
    except IntegrityError:
        return None
    if email and not digest:
        _email_enqueue(user, subject=_subject(notification), body=_body(notification), notification=notification)
    return notification


def _absolute(path: str) -> str:
    return settings.CLINOPS_BASE_URL.rstrip("/") + path


def _subject(notification: Notification) -> str:
    return f"clinops: {notification.get_kind_display().lower()}"


def _body(notification: Notification) -> str:
    # Only what kind of thing waits: the title never names a patient, and the link leads to the
    # notification behind sign-in, which then opens the item.
    link = _absolute(reverse("notifications:open", args=[notification.pk]))
    return (
        f"{notification.title}.\n\n"
        f"Open it in clinops (you will be asked to sign in):\n{link}\n\n"
        "You get this email because of your notification settings in clinops.\n"
    )


def _email_enqueue(user: User, *, subject: str, body: str, notification: Notification | None = None) -> EmailDelivery:
    delivery = EmailDelivery.objects.create(user=user, notification=notification, subject=subject, body=body)
    transaction.on_commit(partial(_queue_send, delivery.pk))
    return delivery


def _queue_send(delivery_id: int) -> None:
    from .tasks import email_send_task

    try:
        email_send_task.delay(delivery_id)
    except Exception:
        # The broker is down: the row is committed as pending; the relay sends it.
        logger.warning("notifications: could not queue email %s; the relay will pick it up", delivery_id)


@transaction.atomic
def notification_read(*, user: User, notification_id: int | None = None) -> int:
    """Mark one of the user's notifications read (or all of them: ``notification_id`` None)."""
    rows = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_id is not None:
        rows = rows.filter(pk=notification_id)
    return rows.update(read_at=timezone.now())


@transaction.atomic
def preferences_save(*, user: User, choices: dict[tuple[str, str], bool], digest: bool) -> None:
    """Store the user's choices (only those that differ from the default are kept) and the digest."""
    for key, default in DEFAULTS.items():
        kind, channel = key
        enabled = choices.get(key, default)
        if enabled == default:
            Preference.objects.filter(user=user, kind=kind, channel=channel).delete()
        else:
            Preference.objects.update_or_create(user=user, kind=kind, channel=channel, defaults={"enabled": enabled})
    DigestChoice.objects.update_or_create(user=user, defaults={"digest": digest})


def email_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Ids of pending or failed deliveries whose attempt is due, oldest first."""
    return delivery_due(EmailDelivery, now=now, limit=limit)


def email_relay(*, now: datetime | None = None) -> int:
    """Queue every due delivery (a stranded pending one, or a failed one whose backoff is over)."""
    due = email_due(now=now)
    for delivery_id in due:
        _queue_send(delivery_id)
    return len(due)


def email_send(*, delivery_id: int) -> str:
    """Send one delivery if it is due and nobody else is sending it; returns its status after.
    Sent once: a sent delivery is never claimed again, and a claim leases the row, so two workers
    never send it at the same time. The Message-ID is the delivery's, the same on a retry."""
    delivery = delivery_claim(EmailDelivery, delivery_id, related=("user",))
    if delivery is None:
        return EmailDelivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first() or "missing"
    claimed = delivery.attempts
    domain = settings.CLINOPS_EMAIL_DOMAIN
    message = EmailMessage(
        subject=delivery.subject, body=delivery.body, to=[delivery.user.email],
        headers={"Message-ID": f"<notification-{delivery.pk}@{domain}>", "Auto-Submitted": "auto-generated"},
    )  # fmt: skip
    error = ""
    try:
        with get_connection(fail_silently=False) as connection:
            connection.send_messages([message])
    except Exception as exc:  # SMTP, socket, TLS: every failure is retried, then kept for the admins
        error = f"{type(exc).__name__}: {str(exc)[:300]}"
        logger.warning("notifications: email %s attempt %s failed (%s)", delivery_id, claimed, type(exc).__name__)
    row, _ = delivery_record(EmailDelivery, delivery_id, claimed, error=error)
    return row.status


@transaction.atomic
def email_retry(*, delivery_ids: list[int], by: User) -> int:
    """Put failed or dead deliveries back in line now (integration admins); sent ones stay sent."""
    return delivery_retry(EmailDelivery, delivery_ids, by=by, queue=_queue_send)


def digest_send(*, now: datetime | None = None) -> int:
    """One email per digest user with what waited since their last digest (kinds and counts, no
    patient data); the notifications it covers are marked as emailed. Returns emails queued."""
    now = now or timezone.now()
    queued = 0
    users = User.objects.filter(notifications__email_pending=True, is_active=True).distinct()
    for user in users:
        with transaction.atomic():
            pending = list(Notification.objects.select_for_update().filter(user=user, email_pending=True))
            if not pending:
                continue
            counts: dict[str, int] = {}
            for n in pending:
                counts[n.get_kind_display()] = counts.get(n.get_kind_display(), 0) + 1
            lines = "\n".join(f"- {label}: {count}" for label, count in sorted(counts.items()))
            link = _absolute(reverse("notifications:list"))
            body = f"Waiting for you in clinops:\n{lines}\n\nSee them (you will be asked to sign in):\n{link}\n"
            _email_enqueue(user, subject=f"clinops: {len(pending)} notification(s) since your last digest", body=body)
            Notification.objects.filter(pk__in=[n.pk for n in pending]).update(email_pending=False)
            DigestChoice.objects.filter(user=user).update(last_sent_at=now)
            queued += 1
    return queued
