"""EHR events that create and advance intakes (registered with ``apps.ehr.handlers``).

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

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_fsm import can_proceed

from apps.ehr.handlers import ResourceChange
from apps.ehr.models import Appointment
from apps.terminology.services.unmapped import unmapped_record
from apps.terminology.translation import translate
from apps.workflow.models import TransitionSource
from apps.workflow.services import transition_record

from .checklist import CONSENTS, QUESTIONNAIRE
from .models import Intake, IntakeSite
from .services import apply_transition, checklist_sync, intake_check_by_ehr, schedule_visit, settle
from .workflow import ALWAYS_CLOSED, State

EHR = TransitionSource.EHR
APPOINTMENT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0276"
DEFAULT_CONSENT_TYPES = {"http://loinc.org|59284-0", "http://loinc.org|64292-6"}
CANCELLED = ("cancelled", "entered-in-error")
BEFORE_ARRIVAL = ("booked", "pending")


def _event_time(resource: dict[str, Any]) -> datetime:
    """When the EHR says it happened (meta.lastUpdated), else now."""
    value = parse_datetime(str((resource.get("meta") or {}).get("lastUpdated", "")))
    return value if value and timezone.is_aware(value) else timezone.now()


def intake_site_for(source_id: int, location_ref: str) -> IntakeSite | None:
    """The site an appointment's location belongs to (else the source's default site), if any."""
    sites = list(IntakeSite.objects.filter(source_id=source_id).select_related("site"))
    for candidate in sites:
        if location_ref and location_ref in (candidate.location_refs or []):
            return candidate
    return next((s for s in sites if not s.location_refs), None)


def appointment_type_of(resource: dict[str, Any], message_id: int) -> tuple[str, str, str]:
    """(canonical type, display, problem). No type means ROUTINE (HL7's default); an unmapped
    code keeps the default checklist, says so on the intake and goes to the unmapped-codes queue."""
    concept = resource.get("appointmentType") or {}
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


def on_appointment(change: ResourceChange) -> None:
    intake = (
        Intake.objects.select_for_update(of=("self",))
        .select_related("site")
        .filter(source_id=change.source_id, appointment__fhir_id=change.resource_id)
        .first()
    )
    status = "cancelled" if change.outcome == "deleted" else change.resource.get("status", "")
    if intake is None:
        if status == "booked":
            _create(change)
        return
    if intake.state in ALWAYS_CLOSED:
        return
    common = {"source": EHR, "correlation_id": change.correlation_id}
    if status in CANCELLED:
        if can_proceed(intake.cancel):  # after arrival the visit happened: keep the record
            apply_transition(intake, "cancel", reason=f"Appointment {status} in the EHR", **common)
    elif status == "noshow":
        if can_proceed(intake.mark_no_show):
            apply_transition(intake, "mark_no_show", reason="Appointment noshow in the EHR", **common)
    elif status in ("arrived", "checked-in", "fulfilled"):
        _arrive(intake, status, _event_time(change.resource), change.correlation_id)
    elif status in BEFORE_ARRIVAL:
        _reschedule(intake, change)


def _create(change: ResourceChange) -> None:
    record: Appointment = change.record
    config = intake_site_for(change.source_id, record.location_ref)
    if config is None or not config.enabled or record.start is None:
        return  # the site does not use intake (or the appointment has no time yet)
    kind, display, problem = appointment_type_of(change.resource, change.message_id)
    intake = Intake(
        source_id=change.source_id,
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
    transition_record(intake, transition="create", from_state="", source=EHR,
                      reason=f"Appointment {record.fhir_id} booked in the EHR",
                      correlation_id=change.correlation_id)  # fmt: skip


def _reschedule(intake: Intake, change: ResourceChange) -> None:
    record: Appointment = change.record
    intake.appointment_version = record.version_id
    kind, display, problem = appointment_type_of(change.resource, change.message_id)
    moved = record.start is not None and record.start != intake.visit_start
    retyped = kind != intake.appointment_type
    if not moved and not retyped:
        intake.save(update_fields=["appointment_version", "updated_at"])
        return
    old = timezone.localtime(intake.visit_start, intake.site.tzinfo)
    if moved:
        schedule_visit(intake, record.start)
        intake.reschedule_count += 1
        if intake.escalated_at and intake.due_at > timezone.now():  # a new deadline: no longer overdue
            intake.escalated_at, intake.queue = None, "intake"
    intake.appointment_type, intake.appointment_type_display = kind, display[:200]
    intake.exception_reason = problem[:300]
    added = checklist_sync(intake) if retyped else 0
    new = timezone.localtime(intake.visit_start, intake.site.tzinfo)
    reason = f"Appointment moved from {old:%d %b %H:%M} to {new:%d %b %H:%M}" if moved else "Appointment type changed"
    if added:
        reason += f"; {added} checklist item(s) added"
    common = {"source": EHR, "correlation_id": change.correlation_id}
    if intake.state == State.COMPLETED_LATE and intake.ready_at and intake.ready_at < intake.due_at:
        apply_transition(intake, "reschedule", reason=reason, **common)
    else:
        intake.save()
        transition_record(intake, transition="reschedule", from_state=intake.state, reason=reason, **common)
        settle(intake, reason=reason, **common)


def _arrive(intake: Intake, status: str, at: datetime, correlation_id: str) -> None:
    if status == "arrived":
        intake.arrived_at = intake.arrived_at or at
    elif status == "checked-in":
        intake.arrived_at = intake.arrived_at or at
        intake.checked_in_at = intake.checked_in_at or at
    if can_proceed(intake.check_in):
        apply_transition(intake, "check_in", source=EHR, reason=f"Appointment {status} in the EHR",
                         correlation_id=correlation_id, at=at)  # fmt: skip
    else:
        settle(intake, source=EHR, correlation_id=correlation_id)


def on_encounter(change: ResourceChange) -> None:
    if change.outcome == "deleted" or change.resource.get("status") in ("planned", "cancelled", "entered-in-error"):
        return
    ids = [a.get("reference", "").rsplit("/", 1)[-1] for a in change.resource.get("appointment") or []]
    ids = [i for i in ids if i]
    if not ids:
        return
    intake = (
        Intake.objects.select_for_update(of=("self",))
        .select_related("site")
        .filter(source_id=change.source_id, appointment__fhir_id__in=ids)
        .first()
    )
    if intake is None or intake.state in ALWAYS_CLOSED or intake.checked_in_at:
        return
    started = parse_datetime(str((change.resource.get("period") or {}).get("start", "")))
    intake.checked_in_at = started if started and timezone.is_aware(started) else _event_time(change.resource)
    intake.arrived_at = intake.arrived_at or intake.checked_in_at
    _arrive(intake, "encounter", intake.checked_in_at, change.correlation_id)


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


def _already_used(source_id: int, evidence: str) -> bool:
    from .models import IntakeCheck

    return IntakeCheck.objects.filter(intake__source_id=source_id, evidence=evidence).exists()


def _tick_for_patient(change: ResourceChange, patient_ref: str, key: str) -> None:
    evidence = f"{change.resource_type}/{change.resource_id}"
    if _already_used(change.source_id, evidence):
        return  # a re-delivery (or a new version) of evidence already counted
    intake = _next_open_intake(change.source_id, patient_ref)
    if intake is not None:
        intake_check_by_ehr(intake, key=key, evidence=evidence, correlation_id=change.correlation_id)


def on_questionnaire_response(change: ResourceChange) -> None:
    if change.outcome == "deleted" or change.resource.get("status") not in ("completed", "amended"):
        return
    patient = (change.resource.get("subject") or {}).get("reference", "")
    _tick_for_patient(change, patient, QUESTIONNAIRE)


def is_consent(resource: dict[str, Any]) -> bool:
    """A DocumentReference is a consent when a type or category coding is a consent type."""
    wanted = set(getattr(settings, "INTAKE_CONSENT_TYPE_CODES", DEFAULT_CONSENT_TYPES))
    concepts = [resource.get("type") or {}, *(resource.get("category") or [])]
    for concept in concepts:
        for coding in concept.get("coding") or []:
            if f"{coding.get('system', '')}|{coding.get('code', '')}" in wanted:
                return True
    return False


def on_document_reference(change: ResourceChange) -> None:
    resource = change.resource
    if change.outcome == "deleted" or resource.get("status") != "current" or not is_consent(resource):
        return
    _tick_for_patient(change, (resource.get("subject") or {}).get("reference", ""), CONSENTS)
