"""Intake use cases of the staff: lock, check, change, settle the state from the checklist
(through the workflow engine, which saves and logs), return."""

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format

from apps.core.errors import ApplicationError, ConflictError
from apps.core.models import Site, User
from apps.workflow.models import Outreach
from apps.workflow.outreach import outreach_record
from apps.workflow.permissions import ensure_can
from apps.workflow.transitions import item_lock, staff_lock, transition_apply

from ..models import ChecklistItem, Intake, IntakeCheck
from ..workflow import State
from .visit import settle


def _working(intake: Intake) -> None:
    if intake.state in (State.CANCELLED, State.NO_SHOW):
        raise ConflictError(f"This intake is {intake.get_state_display().lower()}.", code="closed")


@transaction.atomic
def intake_check_set(*, intake_id: int, key: str, done: bool, by: User) -> Intake:
    """Tick (or untick) one checklist line; the state follows the checklist (ready, on the day, reopened)."""
    intake = item_lock(Intake.WORKFLOW, intake_id)
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


@transaction.atomic
def intake_outreach_record(*, intake_id: int, by: User, channel: str, outcome: str, note: str = "") -> Outreach:
    """Record a contact attempt with the patient; the first one moves a pending intake to outreach."""
    attempt = outreach_record(
        workflow=Intake.WORKFLOW, item_id=intake_id, by=by, channel=channel, outcome=outcome, note=note
    )
    intake = item_lock(Intake.WORKFLOW, intake_id)  # already locked by outreach_record, in this transaction
    if intake.state == State.PENDING:
        transition_apply(intake, "contact", by=by, reason=f"{attempt.get_channel_display()}: "
                         f"{attempt.get_outcome_display()}")  # fmt: skip
    return attempt


def _staff(intake_id: int, by: User, name: str, *, reason: str = "") -> Intake:
    intake = staff_lock(Intake.WORKFLOW, intake_id, name, by=by, reason=reason)
    today = timezone.localtime(timezone.now(), intake.site.tzinfo).date()
    if name in ("check_in", "mark_no_show") and intake.visit_date > today:
        on = f"{date_format(intake.visit_date, 'l')} {date_format(intake.visit_date)}"
        raise ConflictError(f"The visit is on {on}; do this on the day.", code="not_yet")
    if name == "check_in" and intake.arrived_at is None:
        intake.arrived_at = timezone.now()
    transition_apply(intake, name, by=by, reason=reason)
    return intake


@transaction.atomic
def intake_check_in(*, intake_id: int, by: User) -> Intake:
    """The front desk checks the patient in (when the EHR has not said so)."""
    return _staff(intake_id, by, "check_in", reason="Checked in at the front desk")


@transaction.atomic
def intake_no_show(*, intake_id: int, by: User, reason: str = "") -> Intake:
    """The patient did not come."""
    return _staff(intake_id, by, "mark_no_show", reason=reason or "Patient did not attend")


@transaction.atomic
def intake_cancel(*, intake_id: int, by: User, reason: str) -> Intake:
    """Cancel an intake (the visit will not happen); the reason is required."""
    return _staff(intake_id, by, "cancel", reason=reason.strip())


@transaction.atomic
def checklist_item_save(
    *,
    by: User,
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
