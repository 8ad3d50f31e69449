"""Governance reads: owners per workflow and site, the friction queue (scoped: a reporter sees their
own reports, owners and supervisors their sites'), the rollout switches, the workaround flags."""

from collections import defaultdict
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from apps.core.models import Site
from apps.core.scoping import site_ids_for

from .models import FrictionReport, FrictionStatus, RolloutSwitch, WorkaroundFlag, Workflow, WorkflowOwner
from .permissions import SUPERVISE


def owner_ids(*, site_id: int, workflow: str) -> list[int]:
    """The people named as any owner of a workflow at a site."""
    rows = WorkflowOwner.objects.filter(site_id=site_id, workflow=workflow, user__is_active=True)
    return sorted(set(rows.values_list("user_id", flat=True)))


def owners_by_workflow(*, site_ids: list[int]) -> dict[tuple[int, str], dict[str, Any]]:
    """(site id, workflow) → {duty: owner} for the given sites, in one query."""
    found: dict[tuple[int, str], dict[str, Any]] = defaultdict(dict)
    for row in WorkflowOwner.objects.filter(site_id__in=site_ids).select_related("user"):
        found[(row.site_id, row.workflow)][row.duty] = row.user
    return found


def owned_site_ids(user: Any) -> set[int]:
    """The user's sites where they own some workflow, or supervise the queues."""
    mine = site_ids_for(user)
    if user.has_perm(SUPERVISE):
        return mine
    return set(WorkflowOwner.objects.filter(user=user, site_id__in=mine).values_list("site_id", flat=True))


def may_handle(user: Any, report: FrictionReport) -> bool:
    """Owners of any workflow at the report's site, and its supervisors, handle its reports."""
    return bool(getattr(user, "is_authenticated", False)) and report.site_id in owned_site_ids(user)


def friction_queue(*, user: Any, status: str = "") -> QuerySet[FrictionReport]:
    """The reports of the sites the user handles, newest first; by default those still open."""
    qs = FrictionReport.objects.filter(site_id__in=owned_site_ids(user)).select_related("site", "reporter")
    if status == "all":
        return qs
    if status:
        return qs.filter(status=status)
    return qs.filter(status__in=[FrictionStatus.NEW, FrictionStatus.ACKNOWLEDGED])


def friction_mine(*, user: Any) -> QuerySet[FrictionReport]:
    """The user's own reports, newest first."""
    return FrictionReport.objects.filter(reporter=user).select_related("site")


def friction_get(*, user: Any, report_id: int) -> FrictionReport:
    """One report its reporter or a handler may see; any other is 'not found'."""
    report = FrictionReport.objects.select_related("site", "reporter", "acknowledged_by").filter(pk=report_id).first()
    if report is None or not (report.reporter_id == user.pk or may_handle(user, report)):
        raise Http404("No such report.")
    return report


def switch_get(*, site: Site, service_line_id: int | None, workflow: str) -> RolloutSwitch:
    """The switch of a workflow at a site and service line (an unsaved "off" one when never set)."""
    found = RolloutSwitch.objects.filter(site=site, service_line_id=service_line_id, workflow=workflow).first()
    return found or RolloutSwitch(site=site, service_line_id=service_line_id, workflow=workflow)


def switches_for(*, site: Site) -> list[RolloutSwitch]:
    """Every workflow at the site as a whole, then each saved service-line switch."""
    saved = list(RolloutSwitch.objects.filter(site=site).select_related("service_line", "changed_by"))
    whole = {s.workflow: s for s in saved if s.service_line_id is None}
    rows = [whole.get(w) or RolloutSwitch(site=site, workflow=w) for w in Workflow.values]
    lines = sorted(
        (s for s in saved if s.service_line_id),
        key=lambda s: (s.workflow, s.service_line.name if s.service_line else ""),
    )
    return rows + lines


def workaround_flags(
    *,
    user: Any,
    site_ids: list[int],
    since: datetime,
    until: datetime,
    service_line_id: int | None = None,
    rule: str = "",
) -> QuerySet[WorkaroundFlag]:
    """The flags of a period at the user's sites, newest first."""
    allowed = [s for s in site_ids if s in site_ids_for(user)]
    qs = WorkaroundFlag.objects.filter(site_id__in=allowed, at__gte=since, at__lt=until).select_related(
        "site", "service_line"
    )
    if service_line_id:
        qs = qs.filter(service_line_id=service_line_id)
    if rule:
        qs = qs.filter(rule=rule)
    return qs
