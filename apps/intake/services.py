"""Intake use cases. Staff actions: lock, check, change, settle the state from the checklist,
save, log, return. EHR events arrive through ``handlers.py`` and use the same helpers."""

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from apps.core.errors import ApplicationError, ConflictError
from apps.core.models import Site
from apps.workflow.models import Outreach, TransitionSource
from apps.workflow.outreach import outreach_record
from apps.workflow.permissions import ensure_can
from apps.workflow.services import transition_record

from .checklist import checklist_for
from .models import ChecklistItem, Intake, IntakeCheck
from .workflow import STAFF_TRANSITIONS, WORKING, State, is_closed

STAFF = TransitionSource.STAFF
SLA_STOPPED = frozenset({State.READY, State.CHECKED_IN, State.COMPLETED_LATE})


def visit_day_start(site: Site, visit_date: date) -> datetime:
    """Midnight at the start of the visit day, in the site's time zone (an aware datetime)."""
    return datetime.combine(visit_date, time.min, tzinfo=site.tzinfo)


def schedule_visit(intake: Intake, start: datetime) -> None:
    """Set the visit time and day; the intake is due (ready) by the start of the visit day."""
    intake.visit_start = start
    intake.visit_date = timezone.localtime(start, intake.site.tzinfo).date()
    intake.due_at = visit_day_start(intake.site, intake.visit_date)
    intake.warn_at = intake.due_at - timedelta(days=1)


def checklist_complete(intake: Intake) -> bool:
    return not intake.checks.filter(done_at__isnull=True).exists()


def checklist_sync(intake: Intake) -> int:
    """Add the lines the intake's checklist now has but the intake lacks (none is removed); returns the count."""
    have = set(intake.checks.values_list("key", flat=True))
    new = [
        IntakeCheck(intake=intake, key=line.key, label=line.label, position=line.position)
        for line in checklist_for(intake.site_id, intake.appointment_type)
        if line.key not in have
    ]
    IntakeCheck.objects.bulk_create(new)
    return len(new)


def apply_transition(
    intake: Intake,
    name: str,
    *,
    by: Any = None,
    source: str = STAFF,
    reason: str = "",
    correlation_id: str = "",
    at: datetime | None = None,
) -> None:
    """Fire a transition on a locked intake; set open/closed and the scorecard fields; save; log."""
    method = getattr(intake, name)
    if not can_proceed(method):
        raise ConflictError(
            f"This intake is {intake.get_state_display().lower()}; it cannot be '{name.replace('_', ' ')}' now.",
            code="transition_not_allowed",
        )
    from_state = intake.state
    method()
    now = at or timezone.now()
    if name in ("finish", "finish_late", "reschedule"):
        intake.ready_at = intake.ready_at if name == "reschedule" else now
    elif name == "reopen":
        intake.ready_at = None
    if name in ("check_in", "mark_no_show"):
        intake.complete_before_visit = bool(intake.ready_at and intake.ready_at < intake.due_at)
    # The SLA (ready before the visit day) runs only while the checklist is being worked:
    # the sweep must not escalate a ready intake, nor one whose patient is already here.
    intake.sla_paused_at = (intake.sla_paused_at or now) if intake.state in SLA_STOPPED else None
    _set_open(intake, now)
    intake.save()
    transition_record(
        intake, transition=name, from_state=from_state, by=by, source=source, reason=reason,
        correlation_id=correlation_id, at=now,
    )  # fmt: skip


def _set_open(intake: Intake, now: datetime) -> None:
    arrived = intake.arrived_at is not None or intake.checked_in_at is not None or intake.state == State.CHECKED_IN
    closed = is_closed(intake.state, arrived=arrived, checklist_complete=checklist_complete(intake))
    if closed and intake.is_open:
        intake.is_open, intake.closed_at = False, now
    elif not closed and not intake.is_open:
        intake.is_open, intake.closed_at = True, None


def settle(intake: Intake, *, by: Any = None, source: str = STAFF, reason: str = "", correlation_id: str = "") -> None:
    """Move the state to what the checklist now says: started, ready (before the visit day),
    completed on the day, or back in progress when an item was unticked."""
    now = timezone.now()
    complete = checklist_complete(intake)
    kwargs = {"by": by, "source": source, "reason": reason, "correlation_id": correlation_id}
    if complete and intake.state in WORKING:
        apply_transition(intake, "finish" if now < intake.due_at else "finish_late", **kwargs)
    elif complete and intake.state == State.CHECKED_IN:
        apply_transition(intake, "finish_late", **kwargs)
    elif not complete and intake.state == State.READY:
        apply_transition(intake, "reopen", **kwargs)
    elif not complete and intake.state == State.PENDING and intake.checks.filter(done_at__isnull=False).exists():
        apply_transition(intake, "start", **kwargs)
    else:
        _set_open(intake, now)
        intake.save()


def _locked(intake_id: int) -> Intake:
    return Intake.objects.select_for_update(of=("self",)).select_related("site").get(pk=intake_id)


def _working(intake: Intake) -> None:
    if intake.state in (State.CANCELLED, State.NO_SHOW):
        raise ConflictError(f"This intake is {intake.get_state_display().lower()}.", code="closed")


@transaction.atomic
def intake_check_set(*, intake_id: int, key: str, done: bool, by: Any) -> Intake:
    """Tick (or untick) one checklist line; the state follows the checklist (ready, on the day, reopened)."""
    intake = _locked(intake_id)
    ensure_can(by, intake, "work")
    _working(intake)
    check = intake.checks.filter(key=key).first()
    if check is None:
        raise ApplicationError("This intake's checklist has no such item.", code="unknown_item")
    if bool(check.done_at) == done:
        return intake
    if done:
        check.done_at, check.done_by, check.done_source = timezone.now(), by, IntakeCheck.Source.STAFF
    else:
        check.done_at, check.done_by, check.done_source, check.evidence = None, None, "", ""
    check.save()
    settle(intake, by=by, reason=f"{check.label}: {'done' if done else 'not done'}")
    return intake


def intake_check_by_ehr(intake: Intake, *, key: str, evidence: str, correlation_id: str = "") -> bool:
    """Tick a line from an EHR event on a locked intake (once per evidence); True when it changed."""
    if intake.state in (State.CANCELLED, State.NO_SHOW):
        return False
    check = intake.checks.filter(key=key, done_at__isnull=True).first()
    if check is None:
        return False
    check.done_at, check.done_source, check.evidence = timezone.now(), IntakeCheck.Source.EHR, evidence[:200]
    check.save()
    reason = f"{check.label}: {evidence} from the EHR"
    before = intake.state
    settle(intake, source=TransitionSource.EHR, reason=reason, correlation_id=correlation_id)
    if intake.state == before:
        transition_record(intake, transition="tick", from_state=before, source=TransitionSource.EHR, reason=reason,
                          correlation_id=correlation_id)  # fmt: skip
    return True


@transaction.atomic
def intake_outreach_record(*, intake_id: int, by: Any, channel: str, outcome: str, note: str = "") -> Outreach:
    """Record a contact attempt with the patient; the first one moves a pending intake to outreach."""
    attempt = outreach_record(
        workflow=Intake.WORKFLOW, item_id=intake_id, by=by, channel=channel, outcome=outcome, note=note
    )
    intake = _locked(intake_id)  # already locked by outreach_record, in this transaction
    if intake.state == State.PENDING:
        apply_transition(intake, "contact", by=by, reason=f"{attempt.get_channel_display()}: "
                         f"{attempt.get_outcome_display()}")  # fmt: skip
    return attempt


def _staff(intake_id: int, by: Any, name: str, *, reason: str = "") -> Intake:
    if name not in STAFF_TRANSITIONS:
        raise ApplicationError(f"'{name}' is not a staff action.", code="not_a_staff_action")
    intake = _locked(intake_id)
    ensure_can(by, intake, "work")
    today = timezone.localtime(timezone.now(), intake.site.tzinfo).date()
    if name in ("check_in", "mark_no_show") and intake.visit_date > today:
        raise ConflictError(f"The visit is on {intake.visit_date:%A %d %B}; do this on the day.", code="not_yet")
    if name == "check_in" and intake.arrived_at is None:
        intake.arrived_at = timezone.now()
    apply_transition(intake, name, by=by, reason=reason)
    return intake


@transaction.atomic
def intake_check_in(*, intake_id: int, by: Any) -> Intake:
    """The front desk checks the patient in (when the EHR has not said so)."""
    return _staff(intake_id, by, "check_in", reason="Checked in at the front desk")


@transaction.atomic
def intake_no_show(*, intake_id: int, by: Any, reason: str = "") -> Intake:
    """The patient did not come."""
    return _staff(intake_id, by, "mark_no_show", reason=reason or "Patient did not attend")


@transaction.atomic
def intake_cancel(*, intake_id: int, by: Any, reason: str) -> Intake:
    """Cancel an intake (the visit will not happen); the reason is required."""
    if not reason.strip():
        raise ApplicationError("Say why the intake is cancelled.", code="reason_required")
    return _staff(intake_id, by, "cancel", reason=reason.strip())


@transaction.atomic
def checklist_item_save(
    *,
    by: Any,
    key: str,
    label: str,
    site: Site | None,
    appointment_type: str = "",
    position: int = 100,
    active: bool = True,
) -> ChecklistItem:
    """Supervisors: add, reword or switch off a checklist line for a site (or all, superusers) and type."""  # fmt: skip
    from apps.core.scoping import site_ids_for

    if not by.has_perm("core.supervise_queues"):
        raise ApplicationError("Only a supervisor can change checklists.", code="not_supervisor")
    if site is None and not by.is_superuser:
        raise ApplicationError("Choose one of your sites.", code="site_required")
    if site is not None and site.pk not in site_ids_for(by):
        raise ApplicationError("That site is not one of yours.", code="unknown_site")
    if not key or not label.strip():
        raise ApplicationError("An item needs a key and a label.", code="label_required")
    item, _ = ChecklistItem.objects.update_or_create(
        key=key, site=site, appointment_type=appointment_type,
        defaults={"label": label.strip()[:120], "position": position, "active": active, "updated_by": by},
    )  # fmt: skip
    return item
