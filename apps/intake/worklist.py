"""What the shared worklist (``apps.workflow.worklist``) needs to know about intakes: their
queues and open states, the intake's own columns (the visit, the checklist), where an intake
may be moved, and the safe bulk action: a supervisor marks as no-shows the intakes of visits on
an earlier day whose patient never arrived."""

from typing import Any

from django.templatetags.tz import do_timezone
from django.utils.formats import date_format, time_format
from django.utils.html import conditional_escape, format_html

from apps.core.errors import ConflictError
from apps.workflow.sla import SUPERVISOR_QUEUE
from apps.workflow.templatetags.plain_words import plain_codes_text
from apps.workflow.worklist import BulkAction, Column, WorklistSpec

from .models import Intake
from .selectors import site_today
from .services import intake_no_show
from .workflow import ALWAYS_CLOSED, BEFORE_ARRIVAL, State

INTAKE_QUEUE = "intake"
QUEUES = ((INTAKE_QUEUE, "Intake"), (SUPERVISOR_QUEUE, "Supervisor"))


def queues_for(intake: Any) -> list[str]:
    """Every open intake is worked in the intake queue, or escalated to the supervisor's."""
    return [INTAKE_QUEUE, SUPERVISOR_QUEUE]


def checklist_attach(intakes: list[Any]) -> None:
    """Each intake's checklist lines (prefetched) and the labels of those not done."""
    for intake in intakes:
        intake.checklist = list(intake.checks.all())
        intake.missing = [check.label for check in intake.checklist if not check.done_at]


def visit_cell(intake: Any) -> str:
    """The visit's date and time at its site, its type, and a flag when the type is not mapped."""
    start = do_timezone(intake.visit_start, intake.site.timezone)
    flag = ""
    if intake.exception_reason:
        why = plain_codes_text(intake.exception_reason)
        flag = format_html(' · <span class="flag flag-exc" title="{}">Type not mapped</span>', why)
    return format_html(
        '<span class="wl-specialty">{}, {}</span>\n<span class="sub">{}{}</span>',
        date_format(start),
        time_format(start),
        intake.appointment_type_display or "Appointment",
        flag,
    )


def checklist_cell(intake: Any) -> str:
    """How many lines are left of how many, and which; or all done; or no checklist."""
    missing, checklist = intake.missing, intake.checklist
    if missing:
        names = ", ".join(str(conditional_escape(label)) for label in missing)
        return (
            f'<span class="wl-specialty">{len(missing)} of {len(checklist)} to do</span>\n'
            f'<span class="sub wl-note" title="{names}">{names}</span>'
        )
    if checklist:
        return f'<span class="wl-specialty">All {len(checklist)} done</span>'
    return '<span class="muted">No checklist</span>'


def _no_show(*, item_id: int, by: Any, reason: str = "") -> None:
    intake = Intake.objects.select_related("site").filter(pk=item_id).first()
    if intake is None or intake.state not in BEFORE_ARRIVAL or intake.arrived_at or intake.checked_in_at:
        raise ConflictError("the patient arrived or the intake is closed; nothing to mark.", code="arrived")
    if intake.visit_date >= site_today(intake.site):
        raise ConflictError("the visit is today or later; mark a no-show from the day page.", code="not_past")
    intake_no_show(intake_id=item_id, by=by, reason=reason or "Visit day passed; the patient never arrived")


INTAKE_WORKLIST = WorklistSpec(
    workflow=Intake.WORKFLOW,
    namespace="intake",
    title="Pre-visit worklist",
    noun="intake",
    plural="intakes",
    lede="Open pre-visit intakes at your sites, every day",
    permissions=("core.work_intake",),
    work_permission="core.work_intake",
    queues=QUEUES,
    states=tuple((state.value, state.label) for state in State if state not in ALWAYS_CLOSED),
    columns=(
        Column("Visit", css="wl-visit", cell=visit_cell),
        Column("Checklist", css="wl-ref", cell=checklist_cell),
    ),
    queues_for=queues_for,
    bulk_actions=(
        BulkAction(
            key="no_show",
            label="Mark no-show (past visits)",
            done="marked as no-shows",
            permission="core.supervise_queues",
            hint="Only visits on an earlier day whose patient never arrived",
            run=_no_show,
        ),
    ),
    select_related=("site", "assignee"),
    prefetch_related=("checks",),
    decorate=checklist_attach,
    head_template="intake/_walk_in_link.html",
)
