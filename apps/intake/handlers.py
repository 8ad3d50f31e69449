"""EHR events that create and advance intakes (registered with ``apps.ehr.handlers``): each
handler reads what it needs from the resource and calls one service of ``services/ehr.py``
(which says what each event does); handlers write nothing themselves. The batch handlers
(``on_*s``) first ask in one query which of the batch's appointments have an intake (and whether
the source uses intake at all), and call the services only where there is something to do."""

from datetime import datetime
from functools import partial
from typing import Any, cast

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.ehr.handlers import ResourceChange, changes_each
from apps.ehr.models import Appointment

from .checklist import CONSENTS, QUESTIONNAIRE
from .services import (
    APPOINTMENT_TYPE_SYSTEM,  # noqa: F401 - re-exported (the checklist admin page)
    intake_arrive_from_ehr,
    intake_cancel_from_ehr,
    intake_encounter_from_ehr,
    intake_no_show_from_ehr,
    intake_receive_appointment,
    intake_tick_from_ehr,
    intakes_known,
)

DEFAULT_CONSENT_TYPES = {"http://loinc.org|59284-0", "http://loinc.org|64292-6"}
CANCELLED = ("cancelled", "entered-in-error")
BEFORE_ARRIVAL = ("booked", "pending")


def _event_time(resource: dict[str, Any]) -> datetime:
    """When the EHR says it happened (meta.lastUpdated), else now."""
    value = parse_datetime(str((resource.get("meta") or {}).get("lastUpdated", "")))
    return value if value and timezone.is_aware(value) else timezone.now()


Known = tuple[set[tuple[int, str]], set[int]] | None  # (source, appointment) with an intake; sources using intake


def on_appointments(changes: list[ResourceChange]) -> None:
    known = intakes_known({(c.source_id, c.resource_id) for c in changes})
    changes_each(changes, partial(on_appointment, known=known))


def _nothing_to_do(
    known: tuple[set[tuple[int, str]], set[int]], source_id: int, appointment_id: str, status: str
) -> bool:
    """No intake for the appointment, and none to make (only a booking where intake is used makes one)."""
    with_intake, using_intake = known
    return (source_id, appointment_id) not in with_intake and (status != "booked" or source_id not in using_intake)


def on_appointment(change: ResourceChange, known: Known = None) -> None:
    status = "cancelled" if change.outcome == "deleted" else change.resource.get("status", "")
    source_id, appointment_id = change.source_id, change.resource_id
    if known is not None and _nothing_to_do(known, source_id, appointment_id, status):
        return
    if status in CANCELLED:
        intake_cancel_from_ehr(
            source_id=source_id, appointment_id=appointment_id, status=status, correlation_id=change.correlation_id
        )
    elif status == "noshow":
        intake_no_show_from_ehr(
            source_id=source_id, appointment_id=appointment_id, correlation_id=change.correlation_id
        )
    elif status in ("arrived", "checked-in", "fulfilled"):
        at = _event_time(change.resource)
        intake_arrive_from_ehr(
            source_id=source_id, appointment_id=appointment_id, status=status, at=at,
            correlation_id=change.correlation_id,
        )  # fmt: skip
    elif status in BEFORE_ARRIVAL:
        intake_receive_appointment(
            record=cast(Appointment, change.record), status=status,
            appointment_type=change.resource.get("appointmentType") or {},
            message_id=change.message_id, correlation_id=change.correlation_id,
        )  # fmt: skip


def _appointments(change: ResourceChange) -> list[str]:
    ids = [a.get("reference", "").rsplit("/", 1)[-1] for a in change.resource.get("appointment") or []]
    return [i for i in ids if i]


def on_encounters(changes: list[ResourceChange]) -> None:
    known = intakes_known({(c.source_id, i) for c in changes for i in _appointments(c)})
    changes_each(changes, partial(on_encounter, known=known))


def on_encounter(change: ResourceChange, known: Known = None) -> None:
    if change.outcome == "deleted" or change.resource.get("status") in ("planned", "cancelled", "entered-in-error"):
        return
    ids = _appointments(change)
    if not ids or (known is not None and not {(change.source_id, i) for i in ids} & known[0]):
        return
    started = parse_datetime(str((change.resource.get("period") or {}).get("start", "")))
    intake_encounter_from_ehr(
        source_id=change.source_id, appointment_ids=ids, correlation_id=change.correlation_id,
        started=started if started and timezone.is_aware(started) else _event_time(change.resource),
    )  # fmt: skip


def on_questionnaire_response(change: ResourceChange) -> None:
    if change.outcome == "deleted" or change.resource.get("status") not in ("completed", "amended"):
        return
    _tick(change, (change.resource.get("subject") or {}).get("reference", ""), QUESTIONNAIRE)


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
    _tick(change, (resource.get("subject") or {}).get("reference", ""), CONSENTS)


def _tick(change: ResourceChange, patient_ref: str, key: str) -> None:
    intake_tick_from_ehr(
        source_id=change.source_id, patient_ref=patient_ref, key=key,
        evidence=f"{change.resource_type}/{change.resource_id}", correlation_id=change.correlation_id,
    )  # fmt: skip
