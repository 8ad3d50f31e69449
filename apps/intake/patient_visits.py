"""An intake's appointment as a visit patients are reminded of (apps.notifications): the
patient's confirm (recorded as the patient reached), cancel (the intake cancelled) and pre-visit
form (the questionnaire line ticked) from a reminder's link, on the intake's timeline."""

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from apps.notifications.visits import Visit, VisitClosed, VisitProvider
from apps.workflow.models import TransitionSource
from apps.workflow.transitions import item_lock, transition_apply, transition_record

from .checklist import QUESTIONNAIRE
from .models import Intake, IntakeCheck
from .services.visit import settle
from .workflow import BEFORE_ARRIVAL, State

PATIENT = TransitionSource.PATIENT


def _visit(intake: Intake) -> Visit:
    waiting = any(c.key == QUESTIONNAIRE and c.done_at is None for c in intake.checks.all())
    return Visit(
        workflow=Intake.WORKFLOW, item_id=intake.pk, site_id=intake.site_id, source_id=intake.source_id,
        patient_ref=intake.patient_ref, start=intake.visit_start,
        appointment_ref=f"Appointment/{intake.appointment.fhir_id}", questionnaire_open=waiting,
        open=intake.state in BEFORE_ARRIVAL,
    )  # fmt: skip


def _intakes() -> QuerySet[Intake]:
    return Intake.objects.select_related("appointment").prefetch_related("checks")


def intake_visits_upcoming(after: datetime, until: datetime) -> list[Visit]:
    """Intakes booked in the EHR, not yet arrived, whose visit starts in (after, until]."""
    rows = _intakes().filter(
        state__in=BEFORE_ARRIVAL, entered_by_hand=False, visit_start__gt=after, visit_start__lte=until
    )
    return [_visit(intake) for intake in rows]


def intake_visit_get(intake_id: int) -> Visit | None:
    intake = _intakes().filter(pk=intake_id).first()
    return _visit(intake) if intake is not None else None


def _lock_open(intake_id: int) -> Intake:
    intake = item_lock(Intake.WORKFLOW, intake_id)
    if intake.state not in BEFORE_ARRIVAL or intake.visit_start <= timezone.now():
        raise VisitClosed(intake.site_id)
    return intake


def intake_confirm_by_patient(intake_id: int) -> Visit:
    """The patient will come: a pending intake moves to "patient contacted"; either way it is on the timeline."""
    intake = _lock_open(intake_id)
    reason = "The patient confirmed the visit online (reminder link)"
    if intake.state == State.PENDING:
        transition_apply(intake, "contact", source=PATIENT, reason=reason)
    else:
        transition_record(intake, transition="patient_confirmed", from_state=intake.state, source=PATIENT,
                          reason=reason)  # fmt: skip
    return _visit(intake)


def intake_cancel_by_patient(intake_id: int) -> Visit:
    """The patient cancels the visit: the intake is cancelled."""
    intake = _lock_open(intake_id)
    visit = _visit(intake)
    transition_apply(intake, "cancel", source=PATIENT, reason="The patient cancelled the visit online (reminder link)")
    return visit


def intake_questionnaire_by_patient(intake_id: int, evidence: str) -> None:
    """The patient sent the pre-visit form: the questionnaire line is ticked and the state follows."""
    intake = _lock_open(intake_id)
    check = intake.checks.filter(key=QUESTIONNAIRE, done_at__isnull=True).first()
    if check is None:
        raise VisitClosed(intake.site_id)
    check.done_at, check.done_source, check.evidence = timezone.now(), IntakeCheck.Source.PATIENT, evidence[:200]
    check.save()
    reason = f"{check.label}: {evidence}"
    before = intake.state
    settle(intake, source=PATIENT, reason=reason)
    if intake.state == before:
        transition_record(intake, transition="tick", from_state=before, source=PATIENT, reason=reason)


INTAKE_VISITS = VisitProvider(
    workflow=Intake.WORKFLOW, upcoming=intake_visits_upcoming, get=intake_visit_get,
    confirm=intake_confirm_by_patient, cancel=intake_cancel_by_patient,
    questionnaire_done=intake_questionnaire_by_patient,
)  # fmt: skip
