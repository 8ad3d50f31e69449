import zoneinfo

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
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


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

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user", "at"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.action} {self.what} ({self.patient}) at {self.at:%Y-%m-%d %H:%M}"
