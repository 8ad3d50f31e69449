"""Referral use cases of EHR events, one service each (``handlers.py`` parses the resource and
calls one of them). They run inside the ingestion pipeline's transaction; each is idempotent: a
state that already holds is left alone.

ServiceRequest (a referral by category) → a referral, or an update to it (a new version never
makes a second one; revoked cancels). Task (the referrer's) → the closed-loop target; a Task
the referrer cancels cancels the referral. Appointment based on the referral → scheduled;
fulfilled → completed; no-show or cancelled → back to scheduling. Encounter finished for the
referral's appointment → completed. At completion, the visit's consult note goes back to the
referrer's Task (``consult.py``).
"""

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from apps.ehr.models import ServiceRequest, Task
from apps.terminology.services.unmapped import unmapped_record
from apps.workflow.models import Priority, TransitionSource
from apps.workflow.sla import sla_start
from apps.workflow.transitions import EXCEPTIONS_QUEUE, item_open, transition_apply, transition_record

from ..models import Referral
from ..routing import route_for, service_line_for, specialty_canonical
from ..workflow import CLOSED, HAS_APPOINTMENT, State
from .consult import consult_notes_link

EHR = TransitionSource.EHR
DUPLICATE_WINDOW = timedelta(days=30)
NOT_ACTIVE = ("revoked", "entered-in-error", "completed")


def _referral_of(source_id: int, service_request_ids: list[str]) -> Referral | None:
    return (
        Referral.objects.select_for_update(of=("self",))
        .filter(source_id=source_id, service_request__fhir_id__in=service_request_ids)
        .first()
    )


# What a batch of EHR events may name a referral by: the lookup column, and the reference's prefix.
KNOWN_BY = {
    "service_request": ("service_request__fhir_id", ""),
    "task": ("task_ref", "Task/"),
    "appointment": ("appointment_ref", "Appointment/"),
}


def referrals_known(field: str, wanted: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which of ``wanted`` (source, id of a ServiceRequest, Task or Appointment: ``field``) a
    referral names, in one query for a batch of EHR events (services then run only for those)."""
    if not wanted:
        return set()
    column, prefix = KNOWN_BY[field]
    found = Referral.objects.filter(
        source_id__in={source_id for source_id, _ in wanted}, **{f"{column}__in": {prefix + i for _, i in wanted}}
    ).values_list("source_id", column)
    return {(source_id, value.removeprefix(prefix)) for source_id, value in found} & wanted


@transaction.atomic
def referral_receive_from_ehr(
    *,
    record: ServiceRequest,
    is_referral: bool,
    specialty: tuple[str, str],
    message_id: int,
    correlation_id: str = "",
) -> Referral | None:
    """A ServiceRequest version: a new referral (routed by specialty, held in exceptions when its
    code is unmapped, flagged when it looks like a duplicate, the referrer told), or an update of
    the referral it already made (never a second one)."""
    referral = _referral_of(record.source_id, [record.fhir_id])
    if referral is not None:
        return referral_update_from_ehr(referral=referral, record=record, correlation_id=correlation_id)
    if not is_referral or record.status in NOT_ACTIVE:
        return None
    code, display = specialty
    canonical = specialty_canonical(code)
    route = route_for(record.source_id, record.performer_ref, canonical.code or "")
    priority = record.priority if record.priority in Priority.values else Priority.ROUTINE
    referral = Referral(
        source_id=record.source_id,
        service_request=record,
        site=route.site,
        service_line=route.service_line or service_line_for(route.site, canonical.code),
        queue="triage",
        canonical_specialty=canonical.code or "",
        patient_ref=record.subject_ref,
        requester_ref=record.requester_ref,
        specialty=code,
        specialty_display=display[:300],
        reason=(record.reason_display or record.code_display)[:300],
    )
    referral.set_priority(priority)
    if canonical.code is None:
        # Never guess a route: hold the referral and put the code in front of a steward.
        referral.queue, referral.exception_reason = EXCEPTIONS_QUEUE, canonical.problem[:300]
        system, _, bare = code.partition("|")
        if bare:
            unmapped_record(system, bare, display, example=f"inbox:{message_id}")
    task = Task.objects.filter(source_id=record.source_id, focus_ref=f"ServiceRequest/{record.fhir_id}").first()
    if task is not None:
        referral.task_ref, referral.task_version = task.reference, task.version_id
    sla_start(referral)
    referral.possible_duplicate_of = (
        Referral.objects.filter(
            patient_ref=referral.patient_ref, specialty=code, is_open=True,
            opened_at__gte=timezone.now() - DUPLICATE_WINDOW,
        ).exclude(patient_ref="").order_by("opened_at").first()
    )  # fmt: skip
    item_open(referral, transition="receive", reason=f"ServiceRequest {record.fhir_id} from the EHR",
              correlation_id=correlation_id)  # fmt: skip
    return referral


def referral_update_from_ehr(*, referral: Referral, record: ServiceRequest, correlation_id: str = "") -> Referral:
    """A new version of a referral's ServiceRequest (the referral locked): priority (the SLA clock
    restarts) and reason follow it; logged even when nothing changed. A closed referral stays."""
    if referral.state in CLOSED:
        return referral
    changed = []
    if record.priority in Priority.values and record.priority != referral.priority:
        changed.append(f"priority {referral.priority} → {record.priority}")
        referral.set_priority(record.priority)
        sla_start(referral)
    reason = (record.reason_display or record.code_display)[:300]
    if reason and reason != referral.reason:
        changed.append("reason updated")
        referral.reason = reason
    referral.save()
    transition_record(
        referral, transition="ehr_update", from_state=referral.state, source=EHR,
        reason=f"ServiceRequest version {record.version_id or '?'}: "
        + (", ".join(changed) or "no change to the referral"),
        correlation_id=correlation_id,
    )  # fmt: skip
    return referral


@transaction.atomic
def referral_cancel_from_ehr(
    *, source_id: int, service_request_id: str, status: str, correlation_id: str = ""
) -> Referral | None:
    """The ServiceRequest was revoked, entered in error or deleted in the EHR: cancel its open referral."""
    referral = _referral_of(source_id, [service_request_id])
    if referral is None or referral.state in CLOSED:
        return referral
    transition_apply(referral, "cancel", source=EHR, reason=f"ServiceRequest {status} in the EHR",
                     correlation_id=correlation_id)  # fmt: skip
    return referral


@transaction.atomic
def referral_link_task_from_ehr(
    *, source_id: int, service_request_id: str, task_id: str, task_version: str, cancelled: bool,
    correlation_id: str = "",
) -> Referral | None:  # fmt: skip
    """The referrer's Task for a referral: the closed loop's target from now on; a Task the
    referrer cancelled cancels the open referral. None until the ServiceRequest has arrived."""
    referral = _referral_of(source_id, [service_request_id])
    if referral is None:
        return None  # the referral picks the Task up when its ServiceRequest arrives
    referral.task_ref, referral.task_version = f"Task/{task_id}", task_version
    referral.save(update_fields=["task_ref", "task_version", "updated_at"])
    if cancelled and referral.state not in CLOSED:
        transition_apply(referral, "cancel", source=EHR, reason="The referrer cancelled the Task",
                         correlation_id=correlation_id)  # fmt: skip
    return referral


@transaction.atomic
def referral_appointment_from_ehr(
    *, source_id: int, service_request_ids: list[str], appointment_id: str, status: str, correlation_id: str = ""
) -> Referral | None:
    """An Appointment based on a referral: booked → scheduled; fulfilled → completed (scheduled
    first if need be); no-show or cancelled → back to scheduling, the referrer told which."""
    referral = _referral_of(source_id, service_request_ids)
    if referral is None or referral.state in CLOSED:
        return referral
    ref = f"Appointment/{appointment_id}"
    if ref == referral.replaces_appointment_ref:
        return referral  # the appointment a rebooking replaces: cancelled once the new one is booked
    replaced = referral.replaces_appointment_ref
    fire = None
    kwargs: dict[str, Any] = {}
    if status in ("booked", "pending", "arrived", "checked-in") and referral.state not in HAS_APPOINTMENT:
        fire, kwargs = "schedule", {"appointment_ref": ref}
    elif status == "fulfilled":
        if referral.state not in HAS_APPOINTMENT:
            transition_apply(referral, "schedule", source=EHR, appointment_ref=ref, correlation_id=correlation_id)
        fire = "complete"
    elif status in ("noshow", "cancelled", "entered-in-error") and referral.appointment_ref == ref:
        fire = "unschedule"
        if status == "noshow":
            kwargs["business"] = ("no-show", "Patient did not attend")
    if fire and can_proceed(getattr(referral, fire)):
        transition_apply(referral, fire, source=EHR, reason=f"Appointment {status} in the EHR",
                         correlation_id=correlation_id, **kwargs)  # fmt: skip
        consult_notes_link(referral=referral, correlation_id=correlation_id)
        if fire == "schedule" and replaced:
            from .booking import appointment_cancel_in_ehr

            appointment_cancel_in_ehr(referral=referral, appointment_ref=replaced, reason="Rebooked in clinops")
            referral.replaces_appointment_ref = ""
            referral.save(update_fields=["replaces_appointment_ref", "updated_at"])
    return referral


@transaction.atomic
def referral_encounter_from_ehr(
    *, source_id: int, appointment_ids: list[str], correlation_id: str = ""
) -> Referral | None:
    """An Encounter finished for a scheduled referral's appointment: the referral is completed."""
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .filter(source_id=source_id, appointment_ref__in=[f"Appointment/{i}" for i in appointment_ids if i],
                state__in=HAS_APPOINTMENT)
        .first()
    )  # fmt: skip
    if referral is not None:
        transition_apply(referral, "complete", source=EHR, reason="Encounter finished in the EHR",
                         correlation_id=correlation_id)  # fmt: skip
        consult_notes_link(referral=referral, correlation_id=correlation_id)
    return referral


@transaction.atomic
def referral_info_from_ehr(
    *, source_id: int, task_id: str, answer: str, what: str, correlation_id: str = ""
) -> Referral | None:
    """The referrer answered the question (a Communication about their Task, or the Task updated
    with input): back to triage, the SLA clock resumed where it stopped, the answer on the timeline."""
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .filter(source_id=source_id, task_ref=f"Task/{task_id}", state=State.NEEDS_INFO)
        .first()
    )
    if referral is not None:
        transition_apply(referral, "receive_info", source=EHR, correlation_id=correlation_id,
                         reason=f"The referrer answered ({what}): {answer}"[:2000])  # fmt: skip
    return referral
