from django.db import models
from django.utils import timezone

from .sources import EhrSource


class InboxEnvelope(models.Model):
    """A delivery exactly as it arrived (webhook body), kept whole before it is answered."""

    source = models.ForeignKey(EhrSource, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    sha256 = models.CharField(max_length=64, db_index=True)
    content_type = models.CharField(max_length=100, blank=True)
    correlation_id = models.CharField(max_length=64, db_index=True)
    raw = models.BinaryField()

    def __str__(self) -> str:
        return f"envelope {self.pk} from {self.source_id} at {self.received_at:%Y-%m-%d %H:%M:%S}"


class InboxMessage(models.Model):
    """One resource (or delete, or fetch) to apply to the local store. Nothing is lost: the
    payload is stored before it is acknowledged; failure keeps it with the error; a dead
    letter can be replayed."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Dead letter"

    class Channel(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        BULK = "bulk", "Bulk file"
        POLL = "poll", "Polling"
        V2 = "hl7v2", "HL7 v2 (converted)"

    class Operation(models.TextChoices):
        UPSERT = "upsert", "Create or update"
        DELETE = "delete", "Delete"
        FETCH = "fetch", "Fetch by reference"

    class Outcome(models.TextChoices):
        NEW = "new", "New"
        UPDATED = "updated", "Updated"
        UNCHANGED = "unchanged", "Unchanged"
        DELETED = "deleted", "Deleted"
        IGNORED = "ignored", "Ignored (a type nothing here uses)"

    source = models.ForeignKey(EhrSource, on_delete=models.PROTECT, related_name="inbox_messages")
    envelope = models.ForeignKey(
        InboxEnvelope, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    idempotency_key = models.CharField(max_length=64, unique=True)
    sha256 = models.CharField(max_length=64)
    payload = models.TextField(blank=True, help_text="The resource JSON as received (empty for a delete or fetch)")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    operation = models.CharField(max_length=16, choices=Operation.choices, default=Operation.UPSERT)
    resource_type = models.CharField(max_length=64, db_index=True)
    resource_id = models.CharField(max_length=128, blank=True)
    version_id = models.CharField(max_length=64, blank=True)
    ehr_last_updated = models.DateTimeField(null=True, blank=True, help_text="meta.lastUpdated: the EHR's event time")
    correlation_id = models.CharField(max_length=64, db_index=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    last_error = models.TextField(blank=True, help_text="The latest attempt's error; cleared when one succeeds")
    failures = models.JSONField(
        default=list, blank=True, help_text="Why each failed attempt failed: [{at, attempt, code, error}], oldest first"
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    legal_hold = models.BooleanField(default=False, help_text="Never pruned, whatever the source's retention")

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="ehr_inbox_status_next"),
            models.Index(fields=["source", "status", "received_at"], name="ehr_inbox_source_status"),
            models.Index(fields=["resource_type", "resource_id"], name="ehr_inbox_resource"),
        ]

    def __str__(self) -> str:
        return f"inbox {self.pk} {self.operation} {self.resource_type}/{self.resource_id} ({self.status})"


class OutboxMessage(models.Model):
    """A change the EHR must hear about, written in the same transaction as the change and
    sent by the relay with retries; ``dedupe_key`` makes enqueueing idempotent."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Dead letter"

    class Operation(models.TextChoices):
        UPDATE = "update", "Update fields (read, change, write with If-Match)"
        CREATE = "create", "Create"

    source = models.ForeignKey(EhrSource, on_delete=models.PROTECT, related_name="outbox_messages")
    resource_type = models.CharField(max_length=64)
    resource_id = models.CharField(max_length=128, blank=True)
    operation = models.CharField(max_length=16, choices=Operation.choices, default=Operation.UPDATE)
    changes = models.JSONField(help_text="update: top-level elements to set; create: the whole resource")
    if_match_version = models.CharField(max_length=64, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    correlation_id = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, help_text="The latest attempt's error; cleared when one succeeds")
    failures = models.JSONField(
        default=list, blank=True, help_text="Why each failed attempt failed: [{at, attempt, error}], oldest first"
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_version = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="ehr_outbox_status_next")]

    def __str__(self) -> str:
        return f"outbox {self.pk} {self.operation} {self.resource_type}/{self.resource_id} ({self.status})"
