"""EHR events that create and advance result items (registered with ``apps.ehr.handlers``): the
handler reads what it needs from each resource of a batch and calls one service for the batch,
``results_from_ehr`` of ``services/ehr.py`` (which says what each event does); handlers write
nothing themselves."""

from apps.ehr.handlers import ResourceChange

from .services import Event, ResultVersion, results_from_ehr

VOIDING = frozenset({"entered-in-error", "cancelled"})
# Observations that are not results someone orders and must act on.
NOT_RESULTS = frozenset({"vital-signs", "social-history", "survey", "activity"})


def on_results(changes: list[ResourceChange]) -> None:
    """DiagnosticReports or Observations that follow each other in a batch, taken together."""
    results_from_ehr(versions=[_version(change) for change in changes])


def _is_result(change: ResourceChange) -> bool:
    if change.resource_type != "Observation":
        return True
    categories = {
        c.get("code") for concept in change.resource.get("category") or [] for c in concept.get("coding") or []
    }
    return not categories & NOT_RESULTS


def _version(change: ResourceChange) -> ResultVersion:
    event = Event(change.source_id, change.resource_type, change.resource_id, change.message_id, change.correlation_id)
    status = "deleted" if change.outcome == "deleted" else change.resource.get("status", "")
    if status == "deleted" or status in VOIDING:
        note = next((n.get("text") for n in change.resource.get("note") or [] if n.get("text")), "")
        return ResultVersion(event, change.resource, change.record, _is_result(change), void_status=status, note=note)
    return ResultVersion(event, change.resource, change.record, _is_result(change))
