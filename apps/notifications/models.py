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


class Attempts(models.Model):
    """What a delivery row keeps of its sends (apps.notifications.delivery claims and records them)."""

    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    failures = models.JSONField(default=list, blank=True, help_text="[{at, attempt, error}], oldest first")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class EmailDelivery(Attempts):
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
        STOP_EMAIL = "stop_email", "Stop emails"
        STOP_SMS = "stop_sms", "Stop text messages"

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


class PatientChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message"


class ClinicContact(models.Model):
    """How a site is named to its patients and the number they call (on every message and page)."""

    site = models.OneToOneField("core.Site", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120, blank=True, help_text="As patients know it; blank: the site's name")
    phone = models.CharField(max_length=40, help_text="The number patients call to change a visit")
    questionnaire_url = models.CharField(
        max_length=300, blank=True,
        help_text="The canonical URL of the EHR's Questionnaire for the pre-visit form (as the EHR sent it)",
    )  # fmt: skip
    questionnaire = models.JSONField(
        null=True, blank=True,
        help_text="A FHIR Questionnaire (JSON) for the pre-visit form; used before the EHR's; neither: the default one",
    )  # fmt: skip

    def __str__(self) -> str:
        return f"patient contact of {self.site_id}"


class PatientOptOut(models.Model):
    """A patient who asked for no more messages on one channel (by the link in a message, or staff)."""

    source = models.ForeignKey("ehr.EhrSource", on_delete=models.CASCADE, related_name="+")
    patient_ref = models.CharField(max_length=200)
    channel = models.CharField(max_length=8, choices=PatientChannel.choices)
    created_at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Staff who set it; blank: the patient, by the link in a message",
    )  # fmt: skip

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "patient_ref", "channel"], name="patient_opt_out_unique")
        ]

    def __str__(self) -> str:
        return f"opt-out {self.channel} of {self.patient_ref}"


class PatientMessage(Attempts):
    """One reminder to a patient on one channel for one visit and offset: planned once (the unique
    key), sent after commit, retried with backoff, never twice. The body holds only the clinic, the
    time and the links; the address is looked up when it is sent."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Failed for good"
        OPTED_OUT = "opted_out", "Not sent: the patient opted out"
        NO_ADDRESS = "no_address", "Not sent: no address in the EHR"

    workflow = models.CharField(max_length=16)
    item_id = models.BigIntegerField()
    source = models.ForeignKey("ehr.EhrSource", on_delete=models.PROTECT, related_name="+")
    patient_ref = models.CharField(max_length=200)
    offset_hours = models.PositiveIntegerField()
    visit_start = models.DateTimeField()
    channel = models.CharField(max_length=8, choices=PatientChannel.choices)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(help_text="The clinic, the date and time, the links; nothing clinical")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    provider_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "item_id", "visit_start", "offset_hours", "channel"], name="patient_message_once"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="patient_message_due")]

    def __str__(self) -> str:
        return f"patient message {self.pk} {self.channel} ({self.status})"
