"""Reads for the day view, the item page and the API: scoped to the user's sites, N+1-free."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from apps.core.models import Site
from apps.core.scoping import scope_to_sites, sites_for
from apps.core.sql_relations import sql_relation
from apps.workflow.models import Outreach
from apps.workflow.outreach import outreach_list
from apps.workflow.selectors import patient_get, patients_attach, timeline

from .models import ChecklistItem, Intake, IntakeCheck, IntakeSite

SORTS = {"time": ("visit_start", "id"), "-time": ("-visit_start", "-id"), "readiness": ("ready_rank", "visit_start")}


@dataclass
class DayRow:
    intake: Intake
    checks: list[IntakeCheck]
    missing: list[str]
    patient: Any

    @property
    def done(self) -> int:
        return len(self.checks) - len(self.missing)


def site_today(site: Site) -> date:
    """Today's date at the site (its time zone)."""
    return timezone.localtime(timezone.now(), site.tzinfo).date()


def intake_day(*, user: Any, site: Site, day: date, sort: str = "time") -> list[DayRow]:
    """The visits of one day at one of the user's sites, with their checklist and what is missing."""
    if site.pk not in {s.pk for s in sites_for(user)}:
        raise Http404("No such site.")
    qs = (
        scope_to_sites(Intake.objects.all(), user)
        .filter(site=site, visit_date=day)
        .select_related("site", "assignee")
        .prefetch_related(Prefetch("checks", queryset=IntakeCheck.objects.order_by("position", "key")))
    )
    intakes = list(qs.order_by(*SORTS.get(sort, SORTS["time"])) if sort != "readiness" else qs)
    patients_attach(intakes, user=user)
    rows = []
    for intake in intakes:
        checks = list(intake.checks.all())
        missing = [c.label for c in checks if not c.done_at]
        rows.append(DayRow(intake, checks, missing, intake.patient))
    if sort == "readiness":  # least ready first, then by time
        rows.sort(key=lambda r: (not r.intake.is_open, -len(r.missing), r.intake.visit_start))
    return rows


def intake_days(site: Site) -> tuple[date, date]:
    """Today and tomorrow at the site (the two days the day view offers)."""
    today = site_today(site)
    return today, today + timedelta(days=1)


def intake_get(*, user: Any, intake_id: int) -> Intake:
    """One intake at one of the user's sites (404 otherwise)."""
    intake = (
        scope_to_sites(Intake.objects.all(), user)
        .select_related("site", "assignee", "appointment")
        .prefetch_related("checks")
        .filter(pk=intake_id)
        .first()
    )
    if intake is None:
        raise Http404("No such intake at your sites.")
    return intake


def intake_patient(*, user: Any, intake: Intake) -> Any:
    """The store Patient of an intake (None for roles that may not see patients)."""
    return patient_get(intake, user=user)


def intake_timeline(*, intake: Intake) -> list[dict[str, Any]]:
    """Transitions, notes and outreach attempts of one intake, oldest first."""
    extra = [{"at": a.at, "kind": "outreach", "outreach": a} for a in intake_outreach(intake=intake)]
    return timeline(item=intake, extra=extra)


def intake_outreach(*, intake: Intake) -> QuerySet[Outreach]:
    """The intake's contact attempts, oldest first, with who made them."""
    return outreach_list(workflow=Intake.WORKFLOW, item_id=intake.pk)


def checklist_rows(*, user: Any) -> QuerySet[ChecklistItem]:
    """The checklist configuration a supervisor may see: defaults and their own sites' rows."""
    from django.db.models import Q

    site_ids = [s.pk for s in sites_for(user)]
    return (
        ChecklistItem.objects.filter(Q(site__isnull=True) | Q(site_id__in=site_ids))
        .select_related("site", "updated_by")
        .order_by("appointment_type", "position", "key", "site__name")
    )


def intake_row(*, user: Any, intake_id: int) -> DayRow:
    """One day-view row (after a one-click action swaps it)."""
    intake = intake_get(user=user, intake_id=intake_id)
    checks = sorted(intake.checks.all(), key=lambda c: (c.position, c.key))
    missing = [c.label for c in checks if not c.done_at]
    return DayRow(intake, checks, missing, intake_patient(user=user, intake=intake))


# --- for SQL readers (kpis) -----------------------------------------------------------

# Intakes as an SQL relation (``FROM {INTAKE_FACTS_SQL} n``; apps.core.sql_relations), one row per
# booked visit: ``id``, ``site_id``, ``service_line_id`` (NULL: none), ``patient_ref``
# ("Patient/<id>"), ``state`` (``State`` values), ``visit_start`` (UTC), ``arrived_at`` and
# ``checked_in_at`` (EHR event times, NULL until they happen) and ``complete_before_visit``
# (boolean: the checklist was complete before the visit day; NULL until the patient arrives or is a no-show)
# and ``entered_by_hand`` (boolean: a walk-in added by staff, not an appointment booked in the EHR).
INTAKE_FACTS_SQL = sql_relation(
    Intake,
    id="id",
    site_id="site",
    service_line_id="service_line",
    patient_ref="patient_ref",
    state="state",
    visit_start="visit_start",
    arrived_at="arrived_at",
    checked_in_at="checked_in_at",
    complete_before_visit="complete_before_visit",
    entered_by_hand="entered_by_hand",
)


def intake_site_source_id(*, site_id: int) -> int | None:
    """The EHR source whose appointments create the site's intakes (None: intake not set up there)."""
    return IntakeSite.objects.filter(site_id=site_id).values_list("source_id", flat=True).first()
