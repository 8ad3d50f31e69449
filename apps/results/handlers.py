"""EHR events that create and advance result items (registered with ``apps.ehr.handlers``).

A final, amended or corrected DiagnosticReport → one item; an Observation → one item unless it
belongs to a report (then it refreshes the report's item). A new version that changes the
values, or is amended/corrected, reopens a reviewed item and says what changed;
entered-in-error (or cancelled, or a delete) voids it with the reason. Idempotent: a version
that changes nothing is only logged.
"""

from typing import Any

from django.utils import timezone

from apps.ehr.handlers import ResourceChange
from apps.ehr.models import DiagnosticReport, Observation
from apps.terminology.services.unmapped import unmapped_record
from apps.workflow.models import TransitionSource
from apps.workflow.services import transition_record
from apps.workflow.sla import sla_start

from .clinicians import RoutingError, clinician_resolve, covering_for  # noqa: F401 - RoutingError re-exported
from .interpretation import Interpretation, criticality_of, observation_values, values_changes
from .models import ResultItem
from .services import apply_transition, criticality_set
from .workflow import EXCEPTIONS_QUEUE, PRIORITY_FOR, QUEUE_FOR_STATE, REVIEW_QUEUE, State

EHR = TransitionSource.EHR
ACCEPTED = frozenset({"final", "amended", "corrected", "appended"})
VOIDING = frozenset({"entered-in-error", "cancelled"})
# Observations that are not results someone orders and must act on.
NOT_RESULTS = frozenset({"vital-signs", "social-history", "survey", "activity"})


def _members(item_source_id: int, resource_type: str, resource: dict[str, Any], record: Any) -> list[Observation]:
    if resource_type == "Observation":
        return [record] if record is not None else []
    ids = [r.split("/", 1)[1] for r in (record.result_refs if record else []) if r.startswith("Observation/")]
    found = {o.fhir_id: o for o in Observation.objects.filter(source_id=item_source_id, fhir_id__in=ids)}
    return [found[i] for i in ids if i in found]


def interpretation_for(item: ResultItem) -> Interpretation:
    """Re-read an item's criticality from the store (after a mapping became active)."""
    model = DiagnosticReport if item.resource_type == "DiagnosticReport" else Observation
    record = model.objects.filter(source_id=item.source_id, fhir_id=item.resource_id).first()
    members = _members(item.source_id, item.resource_type, record.raw if record else {}, record)
    return criticality_of(m.raw for m in members)


def _hold_unmapped(item: ResultItem, found: Interpretation, message_id: int) -> None:
    for system, code, display in found.unmapped:
        unmapped_record(system, code, display, example=f"inbox:{message_id}")
    if found.held:
        item.exception_reason = found.note[:300]
        if item.state == State.NEW:
            item.queue = EXCEPTIONS_QUEUE


def _issued(record: Any) -> Any:
    return getattr(record, "issued", None) or getattr(record, "effective", None)


def _locked(
    change: ResourceChange, resource_type: str | None = None, resource_id: str | None = None
) -> ResultItem | None:
    return (
        ResultItem.objects.select_for_update(of=("self",))
        .filter(source_id=change.source_id, resource_type=resource_type or change.resource_type,
                resource_id=resource_id or change.resource_id)
        .first()
    )  # fmt: skip


def _create(change: ResourceChange, members: list[Observation]) -> ResultItem | None:
    resource, record = change.resource, change.record
    who = clinician_resolve(change.source_id, resource)
    if who is None:
        return None
    found = criticality_of(m.raw for m in members)
    item = ResultItem(
        source_id=change.source_id,
        resource_type=change.resource_type,
        resource_id=change.resource_id,
        version_id=getattr(record, "version_id", ""),
        fhir_status=resource.get("status", ""),
        site=who.site,
        queue=REVIEW_QUEUE,
        patient_ref=getattr(record, "subject_ref", ""),
        code=getattr(record, "code", ""),
        code_display=(getattr(record, "code_display", "") or "")[:300],
        criticality=found.criticality,
        criticality_note=found.note[:300],
        interpretation_codes=",".join(found.codes)[:500],
        values=observation_values(members),
        conclusion=getattr(record, "conclusion", "") or "",
        issued_at=_issued(record),
        ordering_ref=who.practitioner_ref,
        ordering_clinician=who.user,
        unassigned_reason="" if who.user else who.how[:300],
    )
    item.set_priority(PRIORITY_FOR[found.criticality])
    # New items follow the ordering clinician's cover, if someone covers them now.
    item.assignee = covering_for(who.user) or who.user
    _hold_unmapped(item, found, change.message_id)
    sla_start(item)
    item.save()
    covered = f"; covered by {item.assignee}" if who.user and item.assignee != who.user else ""
    transition_record(
        item, transition="receive", from_state="", source=EHR, correlation_id=change.correlation_id,
        reason=f"{change.resource_type} {change.resource_id} ({item.fhir_status}) from the EHR: "
        + (f"ordering clinician {who.user} ({who.how}){covered}" if who.user else f"unassigned — {who.how}"),
    )  # fmt: skip
    return item


def _refresh(item: ResultItem, change: ResourceChange, members: list[Observation], record: Any) -> None:
    """A newer version of the result (or of one of its values): compare, reopen when it matters."""
    status = (getattr(record, "status", "") if record is not None else "") or item.fhir_status
    found = criticality_of(m.raw for m in members)
    values = observation_values(members)
    changed = values_changes(item.values, values)
    conclusion = getattr(record, "conclusion", item.conclusion) if item.resource_type == "DiagnosticReport" else ""
    if item.resource_type == "DiagnosticReport" and conclusion != item.conclusion:
        changed.append("conclusion changed")
    if found.criticality != item.criticality:
        changed.append(f"criticality {item.criticality} → {found.criticality}")
    amended = change.resource_type == item.resource_type and status in ("amended", "corrected")
    if status != item.fhir_status and change.resource_type == item.resource_type:
        changed.insert(0, f"status {item.fhir_status} → {status}")
    item.values, item.conclusion, item.fhir_status = values, conclusion or "", status
    item.version_id = getattr(record, "version_id", item.version_id) if record is not None else item.version_id
    item.interpretation_codes = ",".join(found.codes)[:500]
    item.criticality_note = found.note[:300]
    priority_changed = criticality_set(item, found.criticality)
    item.exception_reason = ""
    _hold_unmapped(item, found, change.message_id)
    summary = "; ".join(changed) or "no change to the values"
    if (changed or amended) and item.state != State.NEW:
        item.changes, item.amended_at = summary[:2000], timezone.now()
        item.reviewed_at = item.reviewed_by = item.notified_at = None
        item.escalated_at = None
        if item.state not in (State.ESCALATED,):
            item.assignee = covering_for(item.ordering_clinician) or item.ordering_clinician
        apply_transition(item, "reopen", source=EHR, correlation_id=change.correlation_id,
                         reason=f"{change.resource_type} {change.resource_id} {status}: {summary}")  # fmt: skip
        return
    if changed:  # not reviewed yet: keep adding to what changed since it arrived (or reopened)
        item.changes = "; ".join(filter(None, [item.changes, summary]))[-2000:]
    if priority_changed or (item.state == State.NEW and item.queue != QUEUE_FOR_STATE[State.NEW]):
        if item.state == State.NEW and not item.exception_reason and item.queue == EXCEPTIONS_QUEUE:
            item.queue = REVIEW_QUEUE
        sla_start(item)
    item.save()
    transition_record(
        item, transition="ehr_update", from_state=item.state, source=EHR, correlation_id=change.correlation_id,
        reason=f"{change.resource_type} {change.resource_id} version {getattr(record, 'version_id', '?') or '?'}: "
        + summary,
    )  # fmt: skip


def _void(item: ResultItem, change: ResourceChange) -> None:
    if item.state == State.VOIDED:
        return
    status = change.resource.get("status", "") if change.outcome != "deleted" else "deleted"
    reason = f"{change.resource_type} {change.resource_id} {status} in the EHR"
    note = next((n.get("text") for n in change.resource.get("note") or [] if n.get("text")), "")
    if note:
        reason += f": {note}"
    apply_transition(item, "void", source=EHR, reason=reason[:1000], correlation_id=change.correlation_id,
                     void_reason=reason[:300])  # fmt: skip


def _handle(change: ResourceChange, members: list[Observation]) -> None:
    item = _locked(change)
    status = change.resource.get("status", "")
    if change.outcome == "deleted" or status in VOIDING:
        if item is not None:
            _void(item, change)
        return
    if status not in ACCEPTED:
        return  # registered, preliminary…: not a result to act on yet
    if item is None:
        if change.resource_type == "Observation" and not change.resource.get("subject"):
            return
        _create(change, members)
    elif item.state != State.VOIDED:
        _refresh(item, change, members, change.record)


def on_diagnostic_report(change: ResourceChange) -> None:
    record: DiagnosticReport | None = change.record
    members = _members(change.source_id, "DiagnosticReport", change.resource, record)
    _handle(change, members)
    if record is None or change.outcome == "deleted":
        return
    # Observations that arrived before their report made items of their own: fold them in.
    for obs in members:
        standalone = _locked(change, "Observation", obs.fhir_id)
        if standalone is not None and standalone.state != State.VOIDED:
            why = f"Part of DiagnosticReport {record.fhir_id}; reviewed with the report"
            apply_transition(
                standalone, "void", source=EHR, correlation_id=change.correlation_id, reason=why, void_reason=why
            )


def _report_of(change: ResourceChange) -> DiagnosticReport | None:
    record = change.record
    subject = getattr(record, "subject_ref", "")
    wanted = f"Observation/{change.resource_id}"
    for report in DiagnosticReport.objects.filter(source_id=change.source_id, subject_ref=subject, deleted=False):
        if wanted in (report.result_refs or []):
            return report
    return None


def on_observation(change: ResourceChange) -> None:
    record: Observation | None = change.record
    report = _report_of(change) if record is not None else None
    if report is not None:
        item = _locked(change, "DiagnosticReport", report.fhir_id)
        if item is not None and item.state != State.VOIDED and change.outcome != "deleted":
            _refresh(item, change, _members(change.source_id, "DiagnosticReport", report.raw, report), report)
        return
    categories = {
        c.get("code") for concept in change.resource.get("category") or [] for c in concept.get("coding") or []
    }
    if categories & NOT_RESULTS:
        return
    _handle(change, [record] if record is not None else [])
