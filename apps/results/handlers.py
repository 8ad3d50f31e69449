"""EHR events that create and advance result items (registered with ``apps.ehr.handlers``): each
handler reads what it needs from the resource and calls one service of ``services/ehr.py``
(which says what each event does); handlers write nothing themselves."""

from apps.ehr.handlers import ResourceChange

from .services import Event, result_receive_from_ehr, result_void_from_ehr

VOIDING = frozenset({"entered-in-error", "cancelled"})
# Observations that are not results someone orders and must act on.
NOT_RESULTS = frozenset({"vital-signs", "social-history", "survey", "activity"})


def on_diagnostic_report(change: ResourceChange) -> None:
    _receive_or_void(change, is_result=True)


def on_observation(change: ResourceChange) -> None:
    categories = {
        c.get("code") for concept in change.resource.get("category") or [] for c in concept.get("coding") or []
    }
    _receive_or_void(change, is_result=not categories & NOT_RESULTS)


def _receive_or_void(change: ResourceChange, *, is_result: bool) -> None:
    event = Event(change.source_id, change.resource_type, change.resource_id, change.message_id, change.correlation_id)
    status = "deleted" if change.outcome == "deleted" else change.resource.get("status", "")
    if status == "deleted" or status in VOIDING:
        note = next((n.get("text") for n in change.resource.get("note") or [] if n.get("text")), "")
        result_void_from_ehr(event=event, status=status, note=note, record=change.record, is_result=is_result)
    else:
        result_receive_from_ehr(event=event, resource=change.resource, record=change.record, is_result=is_result)
