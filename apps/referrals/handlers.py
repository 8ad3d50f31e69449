"""EHR events that create and advance referrals (registered with ``apps.ehr.handlers``).

ServiceRequest (a referral by category) → a referral, or an update to it (a new version never
makes a second one; revoked cancels). Task (the referrer's) → the closed-loop target; a Task
the referrer cancels cancels the referral. Appointment based on the referral → scheduled;
fulfilled → completed; no-show or cancelled → back to scheduling. Encounter finished for the
referral's appointment → completed. Handlers are idempotent: a state that already holds is
left alone.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_fsm import can_proceed

from apps.ehr.handlers import ResourceChange
from apps.ehr.models import ServiceRequest, Task
from apps.terminology.services.unmapped import unmapped_record
from apps.workflow.models import Priority, TransitionSource
from apps.workflow.services import transition_record
from apps.workflow.sla import sla_start

from .models import Referral
from .routing import RoutingError, route_for, service_line_for, specialty_canonical  # noqa: F401 - re-exported
from .services import EXCEPTIONS_QUEUE, apply_transition, referral_notify_referrer
from .workflow import CLOSED, State

EHR = TransitionSource.EHR
DUPLICATE_WINDOW = timedelta(days=30)
DEFAULT_REFERRAL_CATEGORIES = {"http://snomed.info/sct|3457005", "|referral"}


def is_referral(resource: dict[str, Any]) -> bool:
    """A ServiceRequest is a referral when a category coding is one of REFERRAL_CATEGORY_CODES."""
    wanted = set(getattr(settings, "REFERRAL_CATEGORY_CODES", DEFAULT_REFERRAL_CATEGORIES))
    for category in resource.get("category") or []:
        for coding in category.get("coding") or []:
            if (
                f"{coding.get('system', '')}|{coding.get('code', '')}" in wanted
                or f"|{coding.get('code', '')}" in wanted
            ):
                return True
        if str(category.get("text", "")).strip().lower() == "referral":
            return True
    return False


def _specialty(resource: dict[str, Any]) -> tuple[str, str]:
    for concept in (resource.get("performerType"), resource.get("code")):
        if isinstance(concept, dict):
            for coding in concept.get("coding") or []:
                if coding.get("code"):
                    return f"{coding.get('system', '')}|{coding['code']}", concept.get("text") or coding.get(
                        "display", ""
                    )
    return "", ""


def on_service_request(change: ResourceChange) -> None:
    referral = (
        Referral.objects.select_for_update()
        .filter(source_id=change.source_id, service_request__fhir_id=change.resource_id)
        .first()
    )
    if referral is None:
        if change.outcome != "deleted" and is_referral(change.resource):
            _create(change)
        return
    if referral.state in CLOSED:
        return
    status = change.resource.get("status", "")
    if change.outcome == "deleted" or status in ("revoked", "entered-in-error"):
        apply_transition(referral, "cancel", source=EHR, reason=f"ServiceRequest {status or 'deleted'} in the EHR",
                         correlation_id=change.correlation_id)  # fmt: skip
        return
    _update(referral, change)


def _create(change: ResourceChange) -> None:
    resource = change.resource
    if resource.get("status") in ("revoked", "entered-in-error", "completed"):
        return
    record: ServiceRequest = change.record
    specialty, specialty_display = _specialty(resource)
    canonical = specialty_canonical(specialty)
    route = route_for(change.source_id, record.performer_ref, canonical.code or "")
    priority = record.priority if record.priority in Priority.values else Priority.ROUTINE
    referral = Referral(
        source_id=change.source_id,
        service_request=record,
        site=route.site,
        service_line=route.service_line or service_line_for(route.site, canonical.code),
        queue="triage",
        canonical_specialty=canonical.code or "",
        patient_ref=record.subject_ref,
        requester_ref=record.requester_ref,
        specialty=specialty,
        specialty_display=specialty_display[:300],
        reason=(record.reason_display or record.code_display)[:300],
    )
    referral.set_priority(priority)
    if canonical.code is None:
        # Never guess a route: hold the referral and put the code in front of a steward.
        referral.queue, referral.exception_reason = EXCEPTIONS_QUEUE, canonical.problem[:300]
        system, _, code = specialty.partition("|")
        if code:
            unmapped_record(system, code, specialty_display, example=f"inbox:{change.message_id}")
    task = Task.objects.filter(source_id=change.source_id, focus_ref=f"ServiceRequest/{record.fhir_id}").first()
    if task is not None:
        referral.task_ref, referral.task_version = task.reference, task.version_id
    sla_start(referral)
    referral.possible_duplicate_of = (
        Referral.objects.filter(
            patient_ref=referral.patient_ref, specialty=specialty, is_open=True,
            opened_at__gte=timezone.now() - DUPLICATE_WINDOW,
        ).exclude(patient_ref="").order_by("opened_at").first()
    )  # fmt: skip
    referral.save()
    logged = transition_record(
        referral, transition="receive", from_state="", by=None, source=EHR,
        reason=f"ServiceRequest {record.fhir_id} from the EHR", correlation_id=change.correlation_id,
    )  # fmt: skip
    referral_notify_referrer(referral, transition_id=logged.pk, correlation_id=change.correlation_id)


def _update(referral: Referral, change: ResourceChange) -> None:
    record: ServiceRequest = change.record
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
        correlation_id=change.correlation_id,
    )  # fmt: skip


def on_task(change: ResourceChange) -> None:
    focus = change.resource.get("focus", {}).get("reference", "") if change.outcome != "deleted" else ""
    if not focus.startswith("ServiceRequest/") and "/ServiceRequest/" not in focus:
        return
    sr_id = focus.rsplit("/", 1)[-1]
    referral = (
        Referral.objects.select_for_update().filter(source_id=change.source_id, service_request__fhir_id=sr_id).first()
    )
    if referral is None:
        return  # the referral picks the Task up when its ServiceRequest arrives
    referral.task_ref = f"Task/{change.resource_id}"
    referral.task_version = (change.resource.get("meta") or {}).get("versionId", "")
    referral.save(update_fields=["task_ref", "task_version", "updated_at"])
    if change.resource.get("status") == "cancelled" and referral.state not in CLOSED:
        apply_transition(referral, "cancel", source=EHR, reason="The referrer cancelled the Task",
                         correlation_id=change.correlation_id)  # fmt: skip


def on_appointment(change: ResourceChange) -> None:
    based_on = [b.get("reference", "") for b in change.resource.get("basedOn") or []]
    sr_ids = [ref.rsplit("/", 1)[-1] for ref in based_on if "ServiceRequest/" in ref]
    if not sr_ids:
        return
    referral = (
        Referral.objects.select_for_update()
        .filter(source_id=change.source_id, service_request__fhir_id__in=sr_ids)
        .first()
    )
    if referral is None or referral.state in CLOSED:
        return
    ref = f"Appointment/{change.resource_id}"
    status = change.resource.get("status", "")
    fire = None
    kwargs: dict[str, Any] = {}
    if status in ("booked", "pending", "arrived", "checked-in") and referral.state != State.SCHEDULED:
        fire, kwargs = "schedule", {"appointment_ref": ref}
    elif status == "fulfilled":
        if referral.state != State.SCHEDULED:
            apply_transition(
                referral, "schedule", source=EHR, appointment_ref=ref, correlation_id=change.correlation_id
            )
        fire = "complete"
    elif status in ("noshow", "cancelled", "entered-in-error") and referral.appointment_ref == ref:
        fire = "unschedule"
        if status == "noshow":
            kwargs["business"] = ("no-show", "Patient did not attend")
    if fire and can_proceed(getattr(referral, fire)):
        apply_transition(referral, fire, source=EHR, reason=f"Appointment {status} in the EHR",
                         correlation_id=change.correlation_id, **kwargs)  # fmt: skip


def on_encounter(change: ResourceChange) -> None:
    if change.resource.get("status") != "finished":
        return
    refs = [a.get("reference", "").rsplit("/", 1)[-1] for a in change.resource.get("appointment") or []]
    referral = (
        Referral.objects.select_for_update()
        .filter(
            source_id=change.source_id,
            appointment_ref__in=[f"Appointment/{r}" for r in refs if r],
            state=State.SCHEDULED,
        )
        .first()
    )
    if referral is not None:
        apply_transition(referral, "complete", source=EHR, reason="Encounter finished in the EHR",
                         correlation_id=change.correlation_id)  # fmt: skip
