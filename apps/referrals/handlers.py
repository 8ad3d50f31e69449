"""EHR events that create and advance referrals (registered with ``apps.ehr.handlers``): each
handler reads what it needs from the resource and calls one service of ``services/ehr.py``
(which says what each event does); handlers write nothing themselves. The batch handlers
(``on_*s``) first ask in one query which of the batch's resources concern a referral at all, and
call the service only for those (and for ServiceRequests that make a new referral)."""

from collections.abc import Callable
from functools import partial
from typing import Any, cast

from django.conf import settings

from apps.ehr.handlers import ResourceChange, changes_each
from apps.ehr.models import ServiceRequest

from .services import (
    referral_appointment_from_ehr,
    referral_cancel_from_ehr,
    referral_encounter_from_ehr,
    referral_info_from_ehr,
    referral_link_task_from_ehr,
    referral_receive_from_ehr,
    referrals_known,
)
from .services.consult import referral_consult_note_from_ehr
from .services.ehr import NOT_ACTIVE
from .services.waitlist import slot_freed

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


Keys = set[tuple[int, str]] | None  # (source, id) a batch lookup found; None: not looked up


def _batch(changes: list[ResourceChange], field: str, refs: Callable[[ResourceChange], list[str]], handler) -> None:
    """Look up in one query which referrals the changes name (``field`` among ``refs`` of each
    change), then hand each change to ``handler`` with what was found."""
    wanted = {(c.source_id, r) for c in changes for r in refs(c) if r}
    changes_each(changes, partial(handler, known=referrals_known(field, wanted)))


def on_service_requests(changes: list[ResourceChange]) -> None:
    _batch(changes, "service_request", lambda c: [c.resource_id], on_service_request)


def on_service_request(change: ResourceChange, known: Keys = None) -> None:
    status = change.resource.get("status", "")
    cancelled = change.outcome == "deleted" or status in ("revoked", "entered-in-error")
    unknown = known is not None and (change.source_id, change.resource_id) not in known
    if unknown and (cancelled or status in NOT_ACTIVE or not is_referral(change.resource)):
        return  # no referral, and none to make
    if cancelled:
        referral_cancel_from_ehr(
            source_id=change.source_id, service_request_id=change.resource_id, status=status or "deleted",
            correlation_id=change.correlation_id,
        )  # fmt: skip
        return
    referral_receive_from_ehr(
        record=cast(ServiceRequest, change.record), is_referral=is_referral(change.resource),
        specialty=_specialty(change.resource),
        message_id=change.message_id, correlation_id=change.correlation_id,
    )  # fmt: skip


def _focus(change: ResourceChange) -> str:
    """The ServiceRequest a Task is about ("" when it is about something else)."""
    focus = change.resource.get("focus", {}).get("reference", "") if change.outcome != "deleted" else ""
    if not focus.startswith("ServiceRequest/") and "/ServiceRequest/" not in focus:
        return ""
    return focus.rsplit("/", 1)[-1]


def on_tasks(changes: list[ResourceChange]) -> None:
    _batch(changes, "service_request", lambda c: [_focus(c)], on_task)


def on_task(change: ResourceChange, known: Keys = None) -> None:
    service_request_id = _focus(change)
    if not service_request_id or (known is not None and (change.source_id, service_request_id) not in known):
        return
    referral_link_task_from_ehr(
        source_id=change.source_id, service_request_id=service_request_id, task_id=change.resource_id,
        task_version=(change.resource.get("meta") or {}).get("versionId", ""),
        cancelled=change.resource.get("status") == "cancelled", correlation_id=change.correlation_id,
    )  # fmt: skip


def _based_on(change: ResourceChange) -> list[str]:
    based_on = [b.get("reference", "") for b in change.resource.get("basedOn") or []]
    return [ref.rsplit("/", 1)[-1] for ref in based_on if "ServiceRequest/" in ref]


def on_appointments(changes: list[ResourceChange]) -> None:
    _batch(changes, "service_request", _based_on, on_appointment)


def on_appointment(change: ResourceChange, known: Keys = None) -> None:
    sr_ids = _based_on(change)
    if not sr_ids or (known is not None and not {(change.source_id, i) for i in sr_ids} & known):
        return
    referral_appointment_from_ehr(
        source_id=change.source_id, service_request_ids=sr_ids, appointment_id=change.resource_id,
        status=change.resource.get("status", ""), correlation_id=change.correlation_id,
    )  # fmt: skip


def _appointments(change: ResourceChange) -> list[str]:
    return [a.get("reference", "").rsplit("/", 1)[-1] for a in change.resource.get("appointment") or []]


def on_encounters(changes: list[ResourceChange]) -> None:
    _batch(changes, "appointment", _appointments, on_encounter)


def on_encounter(change: ResourceChange, known: Keys = None) -> None:
    if change.resource.get("status") != "finished":
        return
    refs = _appointments(change)
    if known is not None and not {(change.source_id, i) for i in refs} & known:
        return
    referral_encounter_from_ehr(source_id=change.source_id, appointment_ids=refs, correlation_id=change.correlation_id)


def on_document_reference(change: ResourceChange) -> None:
    """A note for an encounter (the consult note of a referral's visit goes back to the referrer)."""
    if change.outcome == "deleted" or change.resource.get("status") != "current":
        return
    encounter_ref = getattr(change.record, "encounter_ref", "")
    if encounter_ref.startswith("Encounter/"):
        referral_consult_note_from_ehr(source_id=change.source_id, encounter_ref=encounter_ref,
                                       correlation_id=change.correlation_id)  # fmt: skip


def on_appointment_freeing_a_slot(change: ResourceChange) -> None:
    """An Appointment holding a slot was cancelled: the slot may go to the wait list."""
    if change.outcome == "deleted" or change.resource.get("status") != "cancelled":
        return
    slot: Any = next(iter(change.resource.get("slot") or []), {})
    slot_ref = slot.get("reference", "") if isinstance(slot, dict) else ""
    if "Slot/" in slot_ref:
        slot_freed(source_id=change.source_id, slot_ref="Slot/" + slot_ref.rsplit("/", 1)[-1])


def on_slot(change: ResourceChange) -> None:
    """A Slot the EHR now says is free: offer it to the wait list (if no Appointment holds it)."""
    if change.outcome != "deleted" and change.resource.get("status") == "free":
        slot_freed(source_id=change.source_id, slot_ref=f"Slot/{change.resource_id}")


QUESTION_SYSTEM = "http://clinops.example.org/fhir/referral-question"


def _text(values: Any) -> str:
    parts = []
    for item in values or []:
        if not isinstance(item, dict):
            continue
        for key in ("contentString", "valueString"):
            if isinstance(item.get(key), str):
                parts.append(item[key])
        concept = item.get("valueCodeableConcept")
        if isinstance(concept, dict) and concept.get("text"):
            parts.append(str(concept["text"]))
    return " ".join(parts).strip()


def on_communication(change: ResourceChange) -> None:
    """The referrer's answer: a Communication about their Task (our own question, echoed back, is not one)."""
    resource = change.resource
    if change.outcome == "deleted" or resource.get("status") not in ("completed", "in-progress"):
        return
    if any(isinstance(i, dict) and i.get("system") == QUESTION_SYSTEM for i in resource.get("identifier") or []):
        return
    tasks = [a.get("reference", "") for a in resource.get("about") or [] if isinstance(a, dict)]
    task_ids = [ref.rsplit("/", 1)[-1] for ref in tasks if "Task/" in ref]
    answer = _text(resource.get("payload"))
    for task_id in task_ids[:1]:
        referral_info_from_ehr(source_id=change.source_id, task_id=task_id, answer=answer or "(no text)",
                               what="a message", correlation_id=change.correlation_id)  # fmt: skip


def on_task_inputs(changes: list[ResourceChange]) -> None:
    _batch(changes, "task", lambda c: [c.resource_id], on_task_input)


def on_task_input(change: ResourceChange, known: Keys = None) -> None:
    """The referrer updated their Task with input (and took it off hold): that is their answer."""
    resource = change.resource
    if change.outcome == "deleted" or resource.get("status") in ("on-hold", "cancelled") or not resource.get("input"):
        return
    if known is not None and (change.source_id, change.resource_id) not in known:
        return
    answer = _text(resource.get("input"))
    referral_info_from_ehr(source_id=change.source_id, task_id=change.resource_id, answer=answer or "(no text)",
                           what="the task", correlation_id=change.correlation_id)  # fmt: skip
