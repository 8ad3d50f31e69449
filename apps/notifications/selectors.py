"""Reads of a person's own notifications (nobody sees anyone else's)."""

from django.db.models import Case, QuerySet, Value, When

from apps.core.models import User

from .models import Notification

LIST_LIMIT = 100


def notification_list(*, user: User) -> QuerySet[Notification]:
    """The user's notifications shown in the app: unread critical ones first, then newest (or
    latest repeated) first."""
    unread_critical = Case(When(critical=True, read_at__isnull=True, then=Value(0)), default=Value(1))
    return Notification.objects.filter(user=user, in_app=True).order_by(unread_critical, "-last_at", "-id")[:LIST_LIMIT]


def notification_unread_count(*, user: User) -> int:
    """How many of the user's in-app notifications are unread (the header's count)."""
    return Notification.objects.filter(user=user, in_app=True, read_at__isnull=True).count()


def notification_get(*, user: User, notification_id: int) -> Notification:
    """One of the user's notifications (DoesNotExist for anyone else's)."""
    return Notification.objects.get(user=user, pk=notification_id)
