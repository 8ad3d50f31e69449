"""Intake use cases of EHR events, one service each (``handlers.py`` parses the resource and
calls one of them). They run inside the ingestion pipeline's transaction.

Appointment booked at a site that uses intake → an intake with that type's checklist; a later
version with another start moves it (never a second intake: one per Appointment); cancelled or
entered-in-error cancels it; noshow marks it; arrived / checked-in check the patient in and
record the times the scorecards use; fulfilled checks in if nothing else did. Encounter for the
appointment → checked in. QuestionnaireResponse completed → "questionnaire"; DocumentReference
of a consent type → "consents", on the patient's next open intake. Older versions never reach
handlers (the store ignores them); the same event twice changes nothing.
"""

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django_fsm import can_proceed

from apps.ehr.models import Appointment
from apps.terminology.services.unmapped import unmapped_record
from apps.terminology.translation import translate
from apps.workflow.models import TransitionSource
from apps.workflow.transitions import item_open, transition_apply, transition_record

from ..models import Intake, IntakeCheck, IntakeSite
from ..workflow import ALWAYS_CLOSED, State
from .visit import checklist_sync, schedule_visit, settle

EHR = TransitionSource.EHR
APPOINTMENT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0276"


def intake_site_for(source_id: int, location_ref: str) -> IntakeSite | None:
    """The site an appointment's location belongs to (else the source's default site), if any."""
    sites = list(IntakeSite.objects.filter(source_id=source_id).select_related("site"))
    for candidate in sites:
        if location_ref and location_ref in (candidate.location_refs or []):
            return candidate
    return next((s for s in sites if not s.location_refs), None)


def appointment_type_of(concept: dict[str, Any], message_id: int) -> tuple[str, str, str]:
    """(canonical type, display, problem) of an Appointment.appointmentType. No type means ROUTINE
    (HL7's default); an unmapped code keeps the default checklist, says so on the intake and goes
    to the unmapped-codes queue."""
    codings = [c for c in concept.get("coding") or [] if c.get("code")]
    display = concept.get("text") or next((c.get("display", "") for c in codings if c.get("display")), "")
    if not codings:
        return "ROUTINE", display or "Routine appointment", ""
    system, code = codings[0].get("system", ""), codings[0]["code"]
    if system == APPOINTMENT_TYPE_SYSTEM:
        return code, display or code.capitalize(), ""
    found = translate(system, code, APPOINTMENT_TYPE_SYSTEM)
    if found is not None and found.target_code:
        return found.target_code, display or found.target_code.capitalize(), ""
    unmapped_record(system, code, display, example=f"inbox:{message_id}")
    return "", display or code, f"Appointment type {code} is not mapped; the default checklist is used."


def intakes_known(wanted: set[tuple[int, str]]) -> tuple[set[tuple[int, str]], set[int]]:
    """For a batch of EHR events: which of ``wanted`` (source, Appointment id) have an intake, and
    which of their sources use intake at all (two queries, whatever the batch)."""
    if not wanted:
        return set(), set()
    sources = {source_id for source_id, _ in wanted}
    found = Intake.objects.filter(source_id__in=sources, appointment__fhir_id__in={i for _, i in wanted}).values_list(
        "source_id", "appointment__fhir_id"
    )
    using = set(IntakeSite.objects.filter(source_id__in=sources).values_list("source_id", flat=True))
    return set(found) & wanted, using


def _intake_of(source_id: int, appointment_ids: list[str]) -> Intake | None:
    return (
        Intake.objects.select_for_update(of=("self",))
        .select_related("site")
        .filter(source_id=source_id, appointment__fhir_id__in=appointment_ids)
        .first()
    )


@transaction.atomic
def intake_receive_appointment(
    *, record: Appointment, status: str, appointment_type: dict[str, Any], message_id: int, correlation_id: str = ""
) -> Intake | None:
    """A booked (or pending) Appointment version: a new intake with its type's checklist when the
    site uses intake, or the intake moved to the new time or type (its checklist extended)."""
    intake = _intake_of(record.source_id, [record.fhir_id])
    if intake is None:
        return _create(record, appointment_type, message_id, correlation_id) if status == "booked" else None
    if intake.state in ALWAYS_CLOSED:
        return intake
    intake.appointment_version = record.version_id
    kind, display, problem = appointment_type_of(appointment_type, message_id)
    start = record.start
    moved = start is not None and start != intake.visit_start
    retyped = kind != intake.appointment_type
    if not moved and not retyped:
        intake.save(update_fields=["appointment_version", "updated_at"])
        return intake
    old = timezone.localtime(intake.visit_start, intake.site.tzinfo)
    if start is not None and moved:
        schedule_visit(intake, start)
        intake.reschedule_count += 1
        if intake.escalated_at and intake.due_at > timezone.now():  # a new deadline: no longer overdue
            intake.escalated_at, intake.queue = None, "intake"
    intake.appointment_type, intake.appointment_type_display = kind, display[:200]
    intake.exception_reason = problem[:300]
    added = checklist_sync(intake) if retyped else 0
    new = timezone.localtime(intake.visit_start, intake.site.tzinfo)
    moved_text = f"{date_format(old, 'DATETIME_FORMAT')} to {date_format(new, 'DATETIME_FORMAT')}"
    reason = f"Appointment moved from {moved_text}" if moved else "Appointment type changed"
    if added:
        reason += f"; {added} checklist item(s) added"
    if intake.state == State.COMPLETED_LATE and intake.ready_at and intake.ready_at < intake.due_at:
        transition_apply(intake, "reschedule", reason=reason, source=EHR, correlation_id=correlation_id)
    else:
        intake.save()
        transition_record(
            intake, transition="reschedule", from_state=intake.state, reason=reason, source=EHR,
            correlation_id=correlation_id,
        )  # fmt: skip
        settle(intake, reason=reason, source=EHR, correlation_id=correlation_id)
    return intake


def _create(
    record: Appointment, appointment_type: dict[str, Any], message_id: int, correlation_id: str
) -> Intake | None:
    config = intake_site_for(record.source_id, record.location_ref)
    if config is None or not config.enabled or record.start is None:
        return None  # the site does not use intake (or the appointment has no time yet)
    kind, display, problem = appointment_type_of(appointment_type, message_id)
    intake = Intake(
        source_id=record.source_id,
        appointment=record,
        appointment_version=record.version_id,
        site=config.site,
        queue="intake",
        patient_ref=record.patient_ref,
        appointment_type=kind,
        appointment_type_display=display[:200],
        exception_reason=problem[:300],
    )
    schedule_visit(intake, record.start)
    intake.save()
    checklist_sync(intake)
    item_open(intake, transition="create", reason=f"Appointment {record.fhir_id} booked in the EHR",
              correlation_id=correlation_id)  # fmt: skip
    return intake


@transaction.atomic
def intake_cancel_from_ehr(
    *, source_id: int, appointment_id: str, status: str, correlation_id: str = ""
) -> Intake | None:
    """The appointment was cancelled (or entered in error, or deleted): the intake is cancelled,
    unless the patient already arrived (the visit happened: the record is kept)."""
    return _close(source_id, appointment_id, "cancel", f"Appointment {status} in the EHR", correlation_id)


@transaction.atomic
def intake_no_show_from_ehr(*, source_id: int, appointment_id: str, correlation_id: str = "") -> Intake | None:
    """The EHR marked the appointment a no-show: so is the intake (when it still can be)."""
    return _close(source_id, appointment_id, "mark_no_show", "Appointment noshow in the EHR", correlation_id)


def _close(source_id: int, appointment_id: str, name: str, reason: str, correlation_id: str) -> Intake | None:
    intake = _intake_of(source_id, [appointment_id])
    if intake is not None and intake.state not in ALWAYS_CLOSED and can_proceed(getattr(intake, name)):
        transition_apply(intake, name, source=EHR, reason=reason, correlation_id=correlation_id)
    return intake


@transaction.atomic
def intake_arrive_from_ehr(
    *, source_id: int, appointment_id: str, status: str, at: datetime, correlation_id: str = ""
) -> Intake | None:
    """The patient arrived, was checked in or seen (``status`` arrived, checked-in, fulfilled):
    the times the scorecards use are kept (the first ones win) and the intake checked in."""
    intake = _intake_of(source_id, [appointment_id])
    if intake is None or intake.state in ALWAYS_CLOSED:
        return intake
    if status in ("arrived", "checked-in"):
        intake.arrived_at = intake.arrived_at or at
    if status == "checked-in":
        intake.checked_in_at = intake.checked_in_at or at
    _arrive(intake, status, at, correlation_id)
    return intake


@transaction.atomic
def intake_encounter_from_ehr(
    *, source_id: int, appointment_ids: list[str], started: datetime, correlation_id: str = ""
) -> Intake | None:
    """An Encounter for the appointment: the patient is checked in at its start (once)."""
    intake = _intake_of(source_id, appointment_ids)
    if intake is None or intake.state in ALWAYS_CLOSED or intake.checked_in_at:
        return intake
    intake.checked_in_at = started
    intake.arrived_at = intake.arrived_at or started
    _arrive(intake, "encounter", started, correlation_id)
    return intake


def _arrive(intake: Intake, status: str, at: datetime, correlation_id: str) -> None:
    if can_proceed(intake.check_in):
        transition_apply(intake, "check_in", source=EHR, reason=f"Appointment {status} in the EHR",
                         correlation_id=correlation_id, at=at)  # fmt: skip
    else:
        settle(intake, source=EHR, correlation_id=correlation_id)


@transaction.atomic
def intake_tick_from_ehr(
    *, source_id: int, patient_ref: str, key: str, evidence: str, correlation_id: str = ""
) -> Intake | None:
    """Evidence from the EHR (e.g. ``QuestionnaireResponse/12``) ticks ``key`` on the patient's
    next open intake, once per evidence (a re-delivery or a new version counts once)."""
    if IntakeCheck.objects.filter(intake__source_id=source_id, evidence=evidence).exists():
        return None
    intake = _next_open_intake(source_id, patient_ref)
    if intake is not None:
        intake_check_by_ehr(intake, key=key, evidence=evidence, correlation_id=correlation_id)
    return intake


def _next_open_intake(source_id: int, patient_ref: str) -> Intake | None:
    """The patient's earliest open intake whose visit has not passed (locked)."""
    if not patient_ref:
        return None
    today = timezone.now() - timedelta(days=1)
    return (
        Intake.objects.select_for_update(of=("self",))
        .select_related("site")
        .filter(source_id=source_id, patient_ref=patient_ref, is_open=True, visit_start__gte=today)
        .order_by("visit_start", "id")
        .first()
    )


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
    settle(intake, source=EHR, reason=reason, correlation_id=correlation_id)
    if intake.state == before:
        transition_record(intake, transition="tick", from_state=before, source=EHR, reason=reason,
                          correlation_id=correlation_id)  # fmt: skip
    return True
