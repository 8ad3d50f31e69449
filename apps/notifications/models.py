"""Staff notifications: one row per person told (the in-app list), their preferences, and the
email deliveries, sent like the EHR outbox (same transaction, after commit, retried, once)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.core.events import EventKind


class Kind(models.TextChoices):
    ITEM_ASSIGNED = EventKind.ITEM_ASSIGNED, "An item is given to me"
    ITEM_ESCALATED = EventKind.ITEM_ESCALATED, "An item is escalated to me or my queue"
    SLA_WARNING = EventKind.SLA_WARNING, "One of my items is near its due time"
    MAPPING_REVIEW = EventKind.MAPPING_REVIEW, "A code mapping waits for my approval"
    DEAD_LETTERS = EventKind.DEAD_LETTERS, "EHR messages failed (dead letters)"
    FEED_SILENT = EventKind.FEED_SILENT, "An EHR feed went silent"
    WAITLIST_OFFER = EventKind.WAITLIST_OFFER, "A wait-list offer waits"
    FRICTION = EventKind.FRICTION, "Friction reported to me, or a reply to my report"


class Channel(models.TextChoices):
    IN_APP = "in_app", "In clinops"
    EMAIL = "email", "Email"


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    title = models.CharField(max_length=200, help_text="What waits, without patient data")
    link = models.CharField(max_length=300, blank=True, help_text="Its page on this site, behind sign-in")
    critical = models.BooleanField(default=False)
    dedupe_key = models.CharField(max_length=200, blank=True)
    repeats = models.PositiveIntegerField(default=0, help_text="How often the same thing happened again")
    in_app = models.BooleanField(default=True, help_text="Shown in the list (per the user's preferences)")
    email_pending = models.BooleanField(default=False, help_text="Waits for the user's email digest")
    created_at = models.DateTimeField(default=timezone.now)
    last_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "dedupe_key"], condition=~Q(dedupe_key=""), name="notification_user_dedupe"
            )
        ]
        indexes = [models.Index(fields=["user", "in_app", "read_at"], name="notification_user_unread")]

    def __str__(self) -> str:
        return f"notification {self.pk} {self.kind} for {self.user_id}"


class Preference(models.Model):
    """A person's choice for one kind of notification on one channel (absent: the default)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    enabled = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "channel"], name="notification_preference_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.channel} {'on' if self.enabled else 'off'}"


class DigestChoice(models.Model):
    """Whether a person gets non-critical emails one by one or as a digest."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    digest = models.BooleanField(default=False)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user_id} digest {'on' if self.digest else 'off'}"


class EmailDelivery(models.Model):
    """One email to send: written with its notification, sent after commit, retried with backoff."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Failed for good"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    notification = models.ForeignKey(
        Notification, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails"
    )
    subject = models.CharField(max_length=200)
    body = models.TextField(help_text="No patient data: what waits and a link behind sign-in")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    failures = models.JSONField(default=list, blank=True, help_text="[{at, attempt, error}], oldest first")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "email deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notification_email_due")]

    def __str__(self) -> str:
        return f"email {self.pk} ({self.status})"


class PatientLink(models.Model):
    """What a signed patient link allows: one purpose on one item, until it expires or is used."""

    class Purpose(models.TextChoices):
        CONFIRM = "confirm", "Confirm the visit"
        CANCEL = "cancel", "Cancel the visit"
        QUESTIONNAIRE = "questionnaire", "Fill the pre-visit questionnaire"

    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    workflow = models.CharField(max_length=16)
    item_id = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workflow", "item_id"], name="patient_link_item")]

    def __str__(self) -> str:
        return f"patient link {self.pk} {self.purpose} {self.workflow}:{self.item_id}"
