"""Leaders' own targets: a value per KPI per site (and optionally per service line) that
replaces the shipped default (``Kpi.target``) on that site's scorecard. Every change is in the
change audit (django-auditlog records all models, with the acting user)."""

from django.conf import settings
from django.db import models

from apps.core.models import ServiceLine, Site


class KpiTarget(models.Model):
    kpi_key = models.CharField(max_length=60)
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    # NULL: the whole site (every service line without a target of its own).
    service_line = models.ForeignKey(ServiceLine, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    value = models.FloatField()
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [("set_targets", "Set the scorecard's targets for their sites")]
        constraints = [
            models.UniqueConstraint(
                fields=["kpi_key", "site", "service_line"],
                condition=models.Q(service_line__isnull=False),
                name="kpis_target_per_line",
            ),
            models.UniqueConstraint(
                fields=["kpi_key", "site"], condition=models.Q(service_line__isnull=True), name="kpis_target_per_site"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kpi_key} target at site {self.site_id}"


class StandardMinutes(models.Model):
    """A site's own standard minutes for one kind of staff action (``workflow``, ``action``: a
    transition name), replacing the shipped default in ``apps.kpis.definitions.money``."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    workflow = models.CharField(max_length=16)
    action = models.CharField(max_length=40)
    minutes = models.FloatField()
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "workflow", "action"], name="kpis_minutes_per_action"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow} {self.action} at site {self.site_id}"


class RollupState(models.Model):
    """The per-item rollup's bookkeeping (one row): which definitions built it and how far into the
    transition log it has read (``apps.kpis.rollup``)."""

    fingerprint = models.CharField(max_length=64)
    last_id = models.BigIntegerField(default=0)  # the highest transition id read
    # How many log rows there were in (last_id - LOOKBACK, last_id] at the last refresh: a change
    # means a transaction committed a lower id late, and those items are read again.
    tail_count = models.IntegerField(default=0)
    built_at = models.DateTimeField()
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"KPI rollup up to transition {self.last_id}"


class StaffedHours(models.Model):
    """The staff hours a site has paid for in a week (Monday to Sunday, local), or its standing
    weekly figure (``week_start`` empty) for weeks without one: overtime is time spent beyond it."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    week_start = models.DateField(null=True, blank=True)  # a Monday; NULL: every week without its own
    hours = models.FloatField()
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "week_start"], condition=models.Q(week_start__isnull=False), name="kpis_staffed_week"
            ),
            models.UniqueConstraint(
                fields=["site"], condition=models.Q(week_start__isnull=True), name="kpis_staffed_standing"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.hours} staffed hours at site {self.site_id} ({self.week_start or 'standing'})"


class LabourCost(models.Model):
    """What one staff hour costs a site (its own currency): overtime hours become money."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="+")
    per_hour = models.DecimalField(max_digits=8, decimal_places=2)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.per_hour} per staff hour at site {self.site_id}"
