"""Governance writes: owners named, friction reported and answered, the rollout switch moved and
its baseline captured. Each is one transaction; every row is saved with ``save()`` so the change
audit (django-auditlog) records it with the acting user; people hear through apps.core.events."""

from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.core.errors import ApplicationError
from apps.core.events import EventKind, StaffEvent, event_emit
from apps.core.keyed_rows import keyed_row_set
from apps.core.models import ServiceLine, Site, User
from apps.core.scoping import site_ids_for
from apps.core.selectors import site_members
from apps.intake.services import intake_site_enable
from apps.workflow.registry import workflow_models

from . import selectors
from .models import Duty, FrictionReport, FrictionStatus, Phase, RolloutSwitch, Severity, Workflow, WorkflowOwner
from .permissions import may_manage
from .readiness import readiness_get

NOTE_MAX = 2000


def _ensure_manage(by: User, site: Site) -> None:
    if not may_manage(by, site.pk):
        raise PermissionDenied("Only supervisors and leaders of this site may change this.")


def _workflow(workflow: str) -> str:
    if workflow not in Workflow.values:
        raise ApplicationError("Choose referrals, pre-visit intake or results follow-up.", code="invalid_workflow")
    return workflow


# --- owners -----------------------------------------------------------------------------------


@transaction.atomic
def owners_set(*, site: Site, workflow: str, owners: dict[str, int | None], by: User) -> int:
    """Name (a user id) or clear (None) the owner of each duty of a workflow at a site; each owner
    must be active staff of the site. Returns how many duties changed."""
    _ensure_manage(by, site)
    _workflow(workflow)
    members = set(site_members(site_id=site.pk).values_list("pk", flat=True))
    changed = 0
    for duty, user_id in owners.items():
        if duty not in Duty.values:
            raise ApplicationError(f"There is no owner duty called {duty!r}.", code="invalid_duty")
        if user_id is not None and user_id not in members:
            raise ApplicationError("An owner must be active staff of this site.", code="not_a_member")
        changed += keyed_row_set(WorkflowOwner, key={"site": site, "workflow": workflow, "duty": duty},
                                 field="user_id", value=user_id, by=by, lock=True)  # fmt: skip
    return changed


# --- friction -----------------------------------------------------------------------------------


def _item_site(workflow: str, item_id: int, by: User) -> int:
    """The site of the work item a report names; it must be at one of the reporter's sites."""
    model = workflow_models().get(workflow)
    site_id = model._default_manager.filter(pk=item_id).values_list("site_id", flat=True).first() if model else None
    if site_id is None or site_id not in site_ids_for(by):
        raise ApplicationError("That work item is not one of your sites' items.", code="invalid_item")
    return site_id


@transaction.atomic
def friction_report(
    *,
    by: User,
    workflow: str,
    note: str,
    site_id: int | None = None,
    page: str = "",
    item_id: int | None = None,
    severity: str = "",
) -> FrictionReport:
    """File a friction report from a page (its path without the query, which may hold a search) and,
    when the page showed one, the work item (its site is the report's). The owners of the workflow
    at the site are told; while none is named, the site's supervisors are."""
    _workflow(workflow)
    note = (note or "").strip()
    if not note:
        raise ApplicationError("Say in a few words what got in your way.", code="empty_note")
    if len(note) > NOTE_MAX:
        raise ApplicationError(f"Keep the note under {NOTE_MAX} characters.", code="note_too_long")
    if severity and severity not in Severity.values:
        raise ApplicationError("Choose a severity from the list, or none.", code="invalid_severity")
    if item_id is not None:
        site_id = _item_site(workflow, item_id, by)
    mine = site_ids_for(by)
    if site_id is None and len(mine) == 1:
        site_id = next(iter(mine))
    if site_id is None or site_id not in mine:
        raise ApplicationError("Choose one of your sites.", code="invalid_site")
    report = FrictionReport.objects.create(
        reporter=by,
        site_id=site_id,
        workflow=workflow,
        page=(page or "").split("?", 1)[0][:255],
        item_id=item_id,
        note=note,
        severity=severity,
    )
    owners = selectors.owner_ids(site_id=site_id, workflow=workflow)
    label = Workflow(workflow).label
    event_emit(
        StaffEvent(
            kind=EventKind.FRICTION,
            title=f"Friction reported in {label.lower()}" + ("" if owners else ": no owner is named yet"),
            link=reverse("governance:friction_detail", args=[report.pk]),
            user_ids=tuple(owners),
            role="" if owners else "supervisor",
            site_id=site_id,
            exclude_user_ids=(by.pk,),
            dedupe_key=f"friction:{report.pk}",
        )
    )
    return report


# The moves a handler may make; "new" is only ever the first status.
NEXT: dict[str, tuple[str, ...]] = {
    FrictionStatus.NEW: (FrictionStatus.ACKNOWLEDGED, FrictionStatus.FIXED, FrictionStatus.WONT_FIX),
    FrictionStatus.ACKNOWLEDGED: (FrictionStatus.FIXED, FrictionStatus.WONT_FIX),
    FrictionStatus.FIXED: (FrictionStatus.ACKNOWLEDGED,),
    FrictionStatus.WONT_FIX: (FrictionStatus.ACKNOWLEDGED,),
}


@transaction.atomic
def friction_respond(*, report_id: int, by: User, status: str = "", reply: str = "") -> FrictionReport:
    """An owner (or the site's supervisor) moves a report on and/or replies; the first move out of
    "new" is its acknowledgement (time to acknowledge). The reporter is told of a reply."""
    report = FrictionReport.objects.select_for_update().get(pk=report_id)
    if not selectors.may_handle(by, report):
        raise PermissionDenied("Only the owners of this workflow and the site's supervisors handle this report.")
    reply = (reply or "").strip()
    if len(reply) > NOTE_MAX:
        raise ApplicationError(f"Keep the reply under {NOTE_MAX} characters.", code="reply_too_long")
    if not status and not reply:
        raise ApplicationError("Choose a new status or write a reply.", code="nothing_to_do")
    now = timezone.now()
    if status and status != report.status:
        if status not in NEXT.get(report.status, ()):
            raise ApplicationError(
                f"A report that is {report.get_status_display().lower()} cannot become "
                f"{FrictionStatus(status).label.lower() if status in FrictionStatus.values else status}.",
                code="invalid_status",
            )
        if report.acknowledged_at is None:
            report.acknowledged_at, report.acknowledged_by = now, by
        report.status = status
        report.closed_at = now if status in (FrictionStatus.FIXED, FrictionStatus.WONT_FIX) else None
    if reply:
        report.reply = reply
    report.save()
    if reply:
        event_emit(
            StaffEvent(
                kind=EventKind.FRICTION,
                title="Your friction report has a reply",
                link=reverse("governance:friction_mine"),
                user_ids=(report.reporter_id,),
                exclude_user_ids=(by.pk,),
            )
        )
    return report


# --- rollout --------------------------------------------------------------------------------------


def _switch(site: Site, service_line: ServiceLine | None, workflow: str) -> RolloutSwitch:
    switch = (
        RolloutSwitch.objects.select_for_update()
        .filter(site=site, service_line=service_line, workflow=_workflow(workflow))
        .first()
    )
    return switch or RolloutSwitch(site=site, service_line=service_line, workflow=workflow)


@transaction.atomic
def rollout_baseline_set(
    *, site: Site, service_line: ServiceLine | None, workflow: str, start: date, end: date, by: User
) -> RolloutSwitch:
    """Capture the baseline period (local dates, both included) the pilot will be compared with."""
    _ensure_manage(by, site)
    if start > end:
        raise ApplicationError("The baseline must start before it ends.", code="invalid_period")
    if end >= timezone.localtime(timezone.now(), site.tzinfo).date():  # the site's today, not the server's
        raise ApplicationError("The baseline must be a period that is over (ending before today).", code="open_period")
    switch = _switch(site, service_line, workflow)
    switch.baseline_start, switch.baseline_end, switch.changed_by = start, end, by
    switch.save()
    return switch


@transaction.atomic
def rollout_phase_set(
    *, site: Site, service_line: ServiceLine | None, workflow: str, phase: str, by: User
) -> RolloutSwitch:
    """Move a workflow at a site (and service line) to off, pilot or live. Live is refused while
    any readiness item is red. For intake at a whole site this is the intake switch itself: pilot
    and live turn it on, off turns it off."""
    _ensure_manage(by, site)
    if phase not in Phase.values:
        raise ApplicationError("Choose off, pilot or live.", code="invalid_phase")
    switch = _switch(site, service_line, workflow)
    if phase == switch.phase:
        return switch
    if phase == Phase.LIVE:
        red = [check for check in readiness_get(switch) if not check.ok]
        if red:
            raise ApplicationError(
                "It cannot go live yet: " + "; ".join(check.label.lower() for check in red) + ".",
                code="not_ready",
                extra={"red": [check.key for check in red]},
            )
    if phase == Phase.PILOT and switch.phase == Phase.OFF:
        switch.pilot_started_at = timezone.now()
    intake_switch = workflow == Workflow.INTAKE and service_line is None
    if intake_switch and not intake_site_enable(site_id=site.pk, enabled=phase != Phase.OFF) and phase != Phase.OFF:
        raise ApplicationError(
            "Intake is not set up at this site yet: an integration admin names the EHR source whose "
            "appointments are this site's (Admin → Intake sites).",
            code="intake_not_set_up",
        )
    switch.phase, switch.changed_by = phase, by
    switch.save()
    return switch
