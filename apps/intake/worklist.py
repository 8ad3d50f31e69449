"""What the shared worklist (``apps.workflow.worklist``) needs to know about intakes: their
queues and open states, the intake's own columns (the visit, the checklist), where an intake
may be moved, and the safe bulk action: a supervisor marks as no-shows the intakes of visits on
an earlier day whose patient never arrived."""

from typing import Any

from apps.core.errors import ConflictError
from apps.workflow.sla import SUPERVISOR_QUEUE
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
        Column("Visit", "intake/worklist/_visit.html", css="wl-visit"),
        Column("Checklist", "intake/worklist/_checklist.html", css="wl-ref"),
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
