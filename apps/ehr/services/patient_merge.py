"""A patient made from HL7 v2 before the EHR's FHIR record of that patient arrived is merged
into the FHIR record when it does (same identifier: system and value, from PID-3).

    patient_on_change     — ehr's own Patient handler: a FHIR Patient takes over the v2-made
                            patients that share one of its identifiers
    patient_merge         — retire one patient into another: it becomes inactive and
                            ``replaced-by`` the survivor (as an A40 merge says it), the stored
                            resources that point at it point at the survivor, and the workflow
                            apps' listeners move their work items
    patient_merge_listener_register — for workflow apps (ehr never imports them)

All in the caller's transaction (the inbox's, for the message that brought the FHIR record), so
the merge and what made it commit together. The resources rewritten keep their version: v2 or
FHIR versions arriving later are ordered as before.
"""

import logging
from collections.abc import Callable
from typing import Any

from ..handlers import ResourceChange
from ..models import STORE_MODELS, Patient
from .store import resource_rewrite

logger = logging.getLogger(__name__)
MergeListener = Callable[[str, str], object]  # (old "Patient/<id>", survivor "Patient/<id>")
_listeners: list[MergeListener] = []


def patient_merge_listener_register(listener: MergeListener) -> None:
    """Call ``listener(old_ref, new_ref)`` in the merge's transaction; it must be idempotent."""
    if listener not in _listeners:
        _listeners.append(listener)


def _v2_made(version_id: str) -> bool:
    return version_id.startswith("v2-")


def patient_on_change(change: ResourceChange) -> None:
    """A Patient from FHIR (not from v2) that has the identifier of a v2-made patient takes it over."""
    record = change.record
    if change.outcome == "deleted" or record is None or _v2_made(record.version_id):
        return
    wanted = {
        (i["system"], str(i["value"]))
        for i in change.resource.get("identifier") or []
        if isinstance(i, dict) and i.get("system") and i.get("value")
    }
    if not wanted:
        return
    twins = Patient.objects.filter(
        source_id=change.source_id, mrn__in=[v for _, v in wanted], deleted=False, version_id__startswith="v2-"
    ).exclude(fhir_id=change.resource_id)
    for twin in twins:
        stored = {
            (i.get("system"), str(i.get("value"))) for i in twin.raw.get("identifier") or [] if isinstance(i, dict)
        }
        if stored & wanted and twin.active is not False:
            patient_merge(source_id=change.source_id, old_id=twin.fhir_id, new_id=change.resource_id)


def _repoint(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {k: (new if k == "reference" and v == old else _repoint(v, old, new)) for k, v in value.items()}
    if isinstance(value, list):
        return [_repoint(v, old, new) for v in value]
    return value


def patient_merge(*, source_id: int, old_id: str, new_id: str) -> int:
    """Retire patient ``old_id`` into ``new_id`` (see the module); returns how many stored
    resources now point at the survivor."""
    old_ref, new_ref = f"Patient/{old_id}", f"Patient/{new_id}"
    moved = 0
    for model in STORE_MODELS.values():
        if not model.PATIENT_FIELD:
            continue
        for record in model.objects.filter(source_id=source_id, **{model.PATIENT_FIELD: old_ref}):
            resource_rewrite(record=record, resource=_repoint(record.raw, old_ref, new_ref))
            moved += 1
    old = Patient.objects.get(source_id=source_id, fhir_id=old_id)
    retired = {**old.raw, "active": False}
    links = [link for link in retired.get("link") or [] if link.get("other", {}).get("reference") != new_ref]
    retired["link"] = [*links, {"other": {"reference": new_ref}, "type": "replaced-by"}]
    resource_rewrite(record=old, resource=retired)
    for listener in _listeners:
        listener(old_ref, new_ref)
    logger.info(
        "patient merge: source %s, v2-made patient row %s retired (%d resources moved)", source_id, old.pk, moved
    )
    return moved
