import hashlib
import secrets

from django.db import models
from django.utils import timezone


class EhrSource(models.Model):
    """An EHR that clinops syncs with: where to call it, how to authenticate, how it calls us."""

    class Auth(models.TextChoices):
        NONE = "none", "None"
        BEARER = "bearer", "Bearer token"
        SMART = "smart_backend", "SMART Backend Services (private-key JWT)"

    name = models.SlugField(max_length=64, unique=True)
    base_url = models.URLField(max_length=500, blank=True, help_text="FHIR R4 base, e.g. https://ehr.example.org/fhir")
    is_active = models.BooleanField(default=True)

    auth_type = models.CharField(max_length=16, choices=Auth.choices, default=Auth.NONE)
    bearer_token = models.CharField(max_length=2000, blank=True)
    client_id = models.CharField(max_length=255, blank=True)
    token_url = models.URLField(max_length=500, blank=True)
    private_key_pem = models.TextField(blank=True, help_text="PEM private key (RS384 or ES384) for the client JWT")
    key_id = models.CharField(max_length=255, blank=True)
    scope = models.CharField(max_length=500, default="system/*.read system/Task.write")

    # Inbound: only a hash of the webhook token is kept; the token is shown once when made.
    webhook_token_hash = models.CharField(max_length=64, blank=True)
    webhook_token_hint = models.CharField(max_length=8, blank=True)

    # HL7 v2 inbound (README "HL7 v2"): the MLLP port is this source's own (or shared, when
    # several sources send from different addresses); HTTP uses the webhook token.
    mllp_port = models.PositiveIntegerField(null=True, blank=True, help_text="TCP port hl7_listen opens for it")
    mllp_allowed_addresses = models.JSONField(
        default=list, blank=True, help_text="IP addresses or networks (CIDR) allowed to send MLLP; empty: none"
    )
    # Enhanced mode (MSH-16): where application ACKs go back to the sender, over MLLP.
    mllp_ack_host = models.CharField(
        max_length=255, blank=True, help_text="Host the sender takes application acknowledgments on (MLLP)"
    )
    mllp_ack_port = models.PositiveIntegerField(null=True, blank=True, help_text="Its port")
    v2_systems = models.JSONField(
        default=dict,
        blank=True,
        help_text="HL7 v2 names → FHIR system URIs: assigning authorities (CX-4) and coding systems (CWE-3), "
        'e.g. {"HOSP": "urn:oid:1.2.3", "L": "http://ehr.example.org/codes"}',
    )

    poll_enabled = models.BooleanField(default=False)
    poll_resource_types = models.JSONField(default=list, blank=True, help_text="Empty: every type in the store")
    poll_interval_seconds = models.PositiveIntegerField(default=300)
    use_bulk_export = models.BooleanField(default=False, help_text="Poll with Bulk $export and _since")

    # Retention (README "EHR sync"): processed messages' raw payloads older than this are pruned
    # daily; dead letters and anything under legal hold are never pruned.
    retention_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Days to keep processed messages as received; blank: keep them for good"
    )
    legal_hold = models.BooleanField(
        default=False, help_text="Keep every message of this source, whatever the retention (a legal hold)"
    )

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("read_fhir_api", "Can read the local FHIR store through /fhir")]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def new_webhook_token(self) -> str:
        """Set a fresh webhook token (in memory; the caller saves) and return it in full, once."""
        # Hex, not URL-safe base64: a token starting with "-" would be read as an option by
        # command lines such as `simulate_ehr --token TOKEN`.
        token = secrets.token_hex(32)
        self.webhook_token_hash = self.hash_token(token)
        self.webhook_token_hint = token[-4:]
        return token

    def check_webhook_token(self, token: str) -> bool:
        return bool(self.webhook_token_hash) and secrets.compare_digest(self.webhook_token_hash, self.hash_token(token))


class PollCursor(models.Model):
    """How far polling has read one resource type of one source (meta.lastUpdated)."""

    source = models.ForeignKey(EhrSource, on_delete=models.CASCADE, related_name="poll_cursors")
    resource_type = models.CharField(max_length=64)
    cursor = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "resource_type"], name="ehr_pollcursor_unique")]

    def __str__(self) -> str:
        return f"{self.source} {self.resource_type} > {self.cursor}"


class RetentionRun(models.Model):
    """One pruning of one source: what was removed and what was kept, and why (audited)."""

    source = models.ForeignKey(EhrSource, on_delete=models.CASCADE, related_name="retention_runs")
    ran_at = models.DateTimeField(default=timezone.now, db_index=True)
    cutoff = models.DateTimeField(help_text="Processed messages received before this were pruned")
    messages_removed = models.PositiveIntegerField(default=0)
    deliveries_removed = models.PositiveIntegerField(default=0, help_text="Raw webhook bodies left with no message")
    outbox_payloads_cleared = models.PositiveIntegerField(default=0)
    held_kept = models.PositiveIntegerField(default=0, help_text="Messages past the cutoff kept under legal hold")
    dead_kept = models.PositiveIntegerField(default=0, help_text="Dead letters past the cutoff, kept")

    class Meta:
        ordering = ["-ran_at", "-id"]

    def __str__(self) -> str:
        return f"retention of {self.source_id} at {self.ran_at:%Y-%m-%d %H:%M}"
