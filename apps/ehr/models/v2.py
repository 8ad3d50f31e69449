from django.db import models
from django.utils import timezone

from .messages import InboxEnvelope
from .sources import EhrSource


class Hl7Message(models.Model):
    """One HL7 v2 message as it arrived, with the ACK it was given (a resend gets the same one).

    The raw bytes are the envelope's (the inbox keeps every delivery whole); the FHIR resources
    it was converted to are the inbox messages of that envelope, processed like any FHIR input.
    Deduplicated by source and MSH-10 (``dedupe_key``); a rejected message (AR) is kept under a
    key of its content, so a corrected resend with the same control id is read afresh."""

    class Status(models.TextChoices):
        CONVERTED = "converted", "Converted to FHIR"
        ERROR = "error", "Stored, not converted (application error)"
        REJECTED = "rejected", "Rejected"

    class Channel(models.TextChoices):
        MLLP = "mllp", "MLLP"
        HTTP = "http", "HTTP"
        FILE = "file", "File import"

    source = models.ForeignKey(EhrSource, on_delete=models.PROTECT, related_name="hl7_messages")
    envelope = models.OneToOneField(InboxEnvelope, on_delete=models.PROTECT, related_name="hl7_message")
    dedupe_key = models.CharField(max_length=64, unique=True)
    control_id = models.CharField(max_length=199, blank=True, db_index=True)
    message_type = models.CharField(max_length=16, blank=True, db_index=True, help_text="MSH-9, e.g. ADT^A01")
    version = models.CharField(max_length=10, blank=True)
    sending_app = models.CharField(max_length=180, blank=True)
    sending_facility = models.CharField(max_length=180, blank=True)
    sent_at = models.CharField(max_length=40, blank=True, help_text="MSH-7 as sent: orders messages of one second")
    charset = models.CharField(max_length=20, blank=True, help_text="The codec the message was read with")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    peer = models.CharField(max_length=100, blank=True, help_text="The sender's address (MLLP) ")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    ack_code = models.CharField(max_length=2, help_text="What the sender was answered: AA/AE/AR, or CA/CE/CR")
    app_ack_code = models.CharField(max_length=2, blank=True, help_text="Enhanced mode: the application ACK")
    ack = models.TextField(help_text="The ACK as sent (ER7)")
    ack_sent = models.BooleanField(default=True, help_text="False when MSH-15 asked for no accept ACK")
    error_code = models.CharField(max_length=8, blank=True, help_text="HL7 table 0357")
    error_location = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)
    duplicates = models.PositiveIntegerField(default=0, help_text="Resends answered with the stored ACK")
    converted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["source", "status", "received_at"], name="ehr_hl7_source_status"),
            models.Index(fields=["source", "sent_at"], name="ehr_hl7_source_sent_at"),
        ]

    def __str__(self) -> str:
        return f"hl7 {self.pk} {self.message_type} {self.control_id} ({self.status})"


class Hl7AppAck(models.Model):
    """Enhanced mode: the application ACK (MSA-1 AA/AE/AR) owed to the sender of a message whose
    MSH-16 asked for it, stored in the message's transaction and sent over an outbound MLLP
    connection (the source's ``mllp_ack_host``/``mllp_ack_port``) with retries, like the outbox."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Not sent (gave up)"

    message = models.OneToOneField(Hl7Message, on_delete=models.PROTECT, related_name="app_ack")
    source = models.ForeignKey(EhrSource, on_delete=models.PROTECT, related_name="hl7_app_acks")
    ack = models.TextField(help_text="The application ACK as sent (ER7)")
    ack_code = models.CharField(max_length=2, help_text="MSA-1: AA, AE or AR")
    charset = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, help_text="The latest attempt's error; cleared when one succeeds")
    destination = models.CharField(max_length=300, blank=True, help_text="host:port of the last attempt")
    reply_code = models.CharField(max_length=2, blank=True, help_text="What the sender answered (MSA-1, e.g. CA)")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="ehr_hl7appack_status_next")]

    def __str__(self) -> str:
        return f"hl7 application ack {self.pk} {self.ack_code} ({self.status})"
