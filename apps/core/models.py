import zoneinfo
from datetime import timedelta

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone such as America/New_York.")


class ServiceLine(models.Model):
    """A clinical service (cardiology, orthopaedics…) that referrals and KPIs are grouped by."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Site(models.Model):
    """A hospital or clinic. Patient data is always scoped to the sites a user belongs to."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    service_lines = models.ManyToManyField(ServiceLine, blank=True, related_name="sites")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        # The capabilities that roles are made of (apps.core.roles); not tied to a model.
        permissions = [
            ("view_patient_data", "Can see patient data at own sites"),
            ("view_aggregates", "Can see aggregate measures (scorecards)"),
            ("work_referrals", "Can work the referral queues"),
            ("work_intake", "Can work the pre-visit intake queues"),
            ("work_results", "Can work result notification and follow-up"),
            ("review_results", "Can review results as a clinician"),
            ("supervise_queues", "Can reassign, bulk-move and handle exceptions"),
            ("steward_terminology", "Can edit and approve code mappings"),
            ("administer_integrations", "Can run the EHR integration console"),
            ("use_emergency_access", "Can break the glass: open a patient's items outside own sites"),
            ("review_emergency_access", "Can review break-glass grants"),
            ("view_audit_report", "Can read the access and change audit report"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def timezone_label(self) -> str:
        """The site's time zone in words, with its offset now: "New York time, UTC−05:00"."""
        place = self.timezone.rsplit("/", 1)[-1].replace("_", " ")
        offset = timezone.now().astimezone(self.tzinfo).utcoffset() or timedelta(0)
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "\u2212"
        hours, minutes = divmod(abs(minutes), 60)
        return "UTC" if self.timezone == "UTC" else f"{place} time, UTC{sign}{hours:02d}:{minutes:02d}"


class User(AbstractUser):
    """A member of staff. Roles are groups (apps.core.roles); sites bound what data they see."""

    sites = models.ManyToManyField(Site, blank=True, related_name="members")

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class AccessLog(models.Model):
    """One view of patient data: who saw which patient's what, when, from where.

    Append-only: on PostgreSQL a trigger rejects UPDATE and DELETE (migration 0002).
    """

    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        LIST = "list", "Listed"
        EXPORT = "export", "Exported"
        SEARCH = "search", "Searched"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="access_logs")
    action = models.CharField(max_length=16, choices=Action.choices, default=Action.VIEW)
    patient = models.CharField(max_length=128, db_index=True, help_text="Local store reference, e.g. Patient/123")
    what = models.CharField(max_length=128, help_text="What was shown, e.g. referral:42")
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    path = models.CharField(max_length=255, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True)
    emergency = models.BooleanField(default=False, help_text="Seen under a break-glass grant")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "at"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.action} {self.what} ({self.patient}) at {self.at:%Y-%m-%d %H:%M}"


class EmergencyGrant(models.Model):
    """Break-glass: one user may open one patient's items outside their sites, for a while, with a reason."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="emergency_grants")
    patient = models.CharField(max_length=128, db_index=True, help_text="Local store reference, e.g. Patient/123")
    reason = models.TextField()
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["user", "expires_at"])]

    def __str__(self) -> str:
        return f"emergency access of {self.user_id} to {self.patient} until {self.expires_at:%Y-%m-%d %H:%M}"


class AuditSeal(models.Model):
    """One link of the tamper-evident chain over the change audit and the access log.

    ``row_hash`` is the SHA-256 of the sealed row's columns; ``chain_hash`` covers the
    previous link's ``chain_hash`` and this row's hash, so an altered, deleted or re-ordered
    row breaks every later link (``manage.py audit_verify``). Append-only like the rows it seals.
    """

    class Kind(models.TextChoices):
        CHANGE = "change", "Change (auditlog)"
        ACCESS = "access", "Access log"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    row_id = models.BigIntegerField()
    row_hash = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64)
    chain_hash = models.CharField(max_length=64, unique=True)
    sealed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["kind", "row_id"], name="core_auditseal_once")]

    def __str__(self) -> str:
        return f"seal {self.pk}: {self.kind} {self.row_id}"


class ApiToken(models.Model):
    """A key for API clients (``Authorization: Token <key>`` or ``Bearer <key>``), made by its user
    on the account page. Only a hash of the key is kept; it expires, and its user can revoke it.
    For a role that requires MFA it is made only right after a code (``created_with_mfa``)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80, help_text="What the key is for, to tell keys apart")
    key_hash = models.CharField(max_length=64, unique=True)
    key_prefix = models.CharField(max_length=8, help_text="The key's first characters, to recognise it")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    created_with_mfa = models.BooleanField(default=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"API key {self.key_prefix}… of {self.user_id}"
