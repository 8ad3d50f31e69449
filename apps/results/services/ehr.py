"""Results use cases of EHR events, one service each (``handlers.py`` parses the resource and
calls one of them). They run inside the ingestion pipeline's transaction.

A final, amended or corrected DiagnosticReport → one item; an Observation → one item unless it
belongs to a report (then it refreshes the report's item). A new version that changes the
values, or is amended/corrected, reopens a reviewed item and says what changed;
entered-in-error (or cancelled, or a delete) voids it with the reason. Idempotent: a version
that changes nothing is only logged.
"""

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.ehr.models import DiagnosticReport, Observation
from apps.terminology.services.unmapped import unmapped_record
from apps.workflow.models import TransitionSource
from apps.workflow.sla import sla_start
from apps.workflow.transitions import item_open, transition_apply, transition_record

from ..clinicians import clinician_resolve, covering_for
from ..interpretation import Interpretation, criticality_of, observation_values, values_changes
from ..models import ReportMember, ResultItem
from ..workflow import EXCEPTIONS_QUEUE, PRIORITY_FOR, QUEUE_FOR_STATE, REVIEW_QUEUE, Criticality, State
from .staff import criticality_set

EHR = TransitionSource.EHR
ACCEPTED = frozenset({"final", "amended", "corrected", "appended"})


@dataclass(frozen=True)
class Event:
    """Which resource version the EHR sent (for the log and the unmapped-codes queue)."""

    source_id: int
    resource_type: str
    resource_id: str
    message_id: int = 0
    correlation_id: str = ""


@transaction.atomic
def result_receive_from_ehr(
    *, event: Event, resource: dict[str, Any], record: Any, is_result: bool = True
) -> ResultItem | None:
    """A version of a result: a new item (to its ordering clinician, or whoever covers them),
    or a refresh of its item (reopened when a reviewed result changed). An observation that
    belongs to a report refreshes the report's item instead; a report folds in the items its
    observations made before it arrived. Preliminary versions are not acted on yet."""
    _members_keep(event, record, deleted=False)
    if _report_value(event, record, deleted=False):
        return None
    item = None
    members = _members(event.source_id, event.resource_type, record)
    if is_result and resource.get("status", "") in ACCEPTED:
        item = _lock(event.source_id, event.resource_type, event.resource_id)
        if item is None:
            if event.resource_type != "Observation" or resource.get("subject"):
                item = _create(event, resource, record, members)
        elif item.state != State.VOIDED:
            _refresh(item, event, members, record)
    _fold(event, record)
    return item


@transaction.atomic
def result_void_from_ehr(
    *, event: Event, status: str, note: str = "", record: Any = None, is_result: bool = True
) -> ResultItem | None:
    """The result was entered in error, cancelled or deleted in the EHR: its item is voided with
    the reason (once). ``record`` is the store row when the resource was not deleted."""
    _members_keep(event, record, deleted=status == "deleted")
    if _report_value(event, record, deleted=status == "deleted"):
        return None
    item = _lock(event.source_id, event.resource_type, event.resource_id) if is_result else None
    if item is not None and item.state != State.VOIDED:
        reason = f"{event.resource_type} {event.resource_id} {status} in the EHR" + (f": {note}" if note else "")
        transition_apply(item, "void", source=EHR, reason=reason[:1000], correlation_id=event.correlation_id,
                         void_reason=reason[:300])  # fmt: skip
    if status != "deleted":
        _fold(event, record)
    return item


def interpretation_for(item: ResultItem) -> Interpretation:
    """Re-read an item's criticality from the store (after a mapping became active)."""
    model = DiagnosticReport if item.resource_type == "DiagnosticReport" else Observation
    record = model.objects.filter(source_id=item.source_id, fhir_id=item.resource_id).first()
    return criticality_of(m.raw for m in _members(item.source_id, item.resource_type, record))


def _members(source_id: int, resource_type: str, record: Any) -> list[Observation]:
    if resource_type == "Observation":
        return [record] if record is not None else []
    ids = [r.split("/", 1)[1] for r in (record.result_refs if record else []) if r.startswith("Observation/")]
    found = {o.fhir_id: o for o in Observation.objects.filter(source_id=source_id, fhir_id__in=ids)}
    return [found[i] for i in ids if i in found]


def _lock(source_id: int, resource_type: str, resource_id: str) -> ResultItem | None:
    return (
        ResultItem.objects.select_for_update(of=("self",))
        .filter(source_id=source_id, resource_type=resource_type, resource_id=resource_id)
        .first()
    )


def _report_value(event: Event, record: Any, *, deleted: bool) -> bool:
    """An observation of a report refreshes the report's item (not on a delete); True when it
    belongs to a report (then it is never an item of its own)."""
    if event.resource_type != "Observation" or record is None:
        return False
    report_ids = ReportMember.objects.filter(source_id=event.source_id, observation_id=event.resource_id)
    report = (
        DiagnosticReport.objects.filter(
            source_id=event.source_id,
            fhir_id__in=report_ids.values("report_id"),
            subject_ref=getattr(record, "subject_ref", ""),
            deleted=False,
        )
        .order_by("pk")
        .first()
    )
    if report is None:
        return False
    item = _lock(event.source_id, "DiagnosticReport", report.fhir_id)
    if item is not None and item.state != State.VOIDED and not deleted:
        _refresh(item, event, _members(event.source_id, "DiagnosticReport", report), report)
    return True


def _members_keep(event: Event, report: Any, *, deleted: bool) -> None:
    """Remember which observations a report lists (forgotten when the report is deleted)."""
    if event.resource_type != "DiagnosticReport":
        return
    refs = [] if deleted or report is None else (report.result_refs or [])
    ids = {r.split("/", 1)[1][:128] for r in refs if r.startswith("Observation/")}
    kept = ReportMember.objects.filter(source_id=event.source_id, report_id=event.resource_id)
    if set(kept.values_list("observation_id", flat=True)) == ids:
        return
    kept.exclude(observation_id__in=ids).delete()
    ReportMember.objects.bulk_create(
        [ReportMember(source_id=event.source_id, observation_id=i, report_id=event.resource_id) for i in ids],
        ignore_conflicts=True,
    )


def _fold(event: Event, report: Any) -> None:
    """Observations that arrived before their report made items of their own: fold them in."""
    if event.resource_type != "DiagnosticReport" or report is None:
        return
    for obs in _members(event.source_id, "DiagnosticReport", report):
        standalone = _lock(event.source_id, "Observation", obs.fhir_id)
        if standalone is not None and standalone.state != State.VOIDED:
            why = f"Part of DiagnosticReport {report.fhir_id}; reviewed with the report"
            transition_apply(
                standalone, "void", source=EHR, correlation_id=event.correlation_id, reason=why, void_reason=why
            )


def _hold_unmapped(item: ResultItem, found: Interpretation, message_id: int) -> None:
    for system, code, display in found.unmapped:
        unmapped_record(system, code, display, example=f"inbox:{message_id}")
    if found.held:
        item.exception_reason = found.note[:300]
        if item.state == State.NEW:
            item.queue = EXCEPTIONS_QUEUE


def _create(event: Event, resource: dict[str, Any], record: Any, members: list[Observation]) -> ResultItem | None:
    who = clinician_resolve(event.source_id, resource)
    if who is None:
        return None
    found = criticality_of(m.raw for m in members)
    item = ResultItem(
        source_id=event.source_id,
        resource_type=event.resource_type,
        resource_id=event.resource_id,
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
        issued_at=getattr(record, "issued", None) or getattr(record, "effective", None),
        ordering_ref=who.practitioner_ref,
        ordering_clinician=who.user,
        unassigned_reason="" if who.user else who.how[:300],
    )
    item.set_priority(PRIORITY_FOR[Criticality(found.criticality)])
    # New items follow the ordering clinician's cover, if someone covers them now.
    item.assignee = covering_for(who.user) or who.user
    _hold_unmapped(item, found, event.message_id)
    sla_start(item)
    covered = f"; covered by {item.assignee}" if who.user and item.assignee != who.user else ""
    item_open(
        item, transition="receive", correlation_id=event.correlation_id,
        reason=f"{event.resource_type} {event.resource_id} ({item.fhir_status}) from the EHR: "
        + (f"ordering clinician {who.user} ({who.how}){covered}" if who.user else f"unassigned — {who.how}"),
    )  # fmt: skip
    return item


def _refresh(item: ResultItem, event: Event, members: list[Observation], record: Any) -> None:
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
    amended = event.resource_type == item.resource_type and status in ("amended", "corrected")
    if status != item.fhir_status and event.resource_type == item.resource_type:
        changed.insert(0, f"status {item.fhir_status} → {status}")
    item.values, item.conclusion, item.fhir_status = values, conclusion or "", status
    item.version_id = getattr(record, "version_id", item.version_id) if record is not None else item.version_id
    item.interpretation_codes = ",".join(found.codes)[:500]
    item.criticality_note = found.note[:300]
    priority_changed = criticality_set(item, found.criticality)
    item.exception_reason = ""
    _hold_unmapped(item, found, event.message_id)
    summary = "; ".join(changed) or "no change to the values"
    if (changed or amended) and item.state != State.NEW:
        item.changes, item.amended_at = summary[:2000], timezone.now()
        item.reviewed_at = item.reviewed_by = item.notified_at = None
        item.escalated_at = None
        if item.state not in (State.ESCALATED,):
            item.assignee = covering_for(item.ordering_clinician) or item.ordering_clinician
        transition_apply(item, "reopen", source=EHR, correlation_id=event.correlation_id,
                         reason=f"{event.resource_type} {event.resource_id} {status}: {summary}")  # fmt: skip
        return
    if changed:  # not reviewed yet: keep adding to what changed since it arrived (or reopened)
        item.changes = "; ".join(filter(None, [item.changes, summary]))[-2000:]
    if priority_changed or (item.state == State.NEW and item.queue != QUEUE_FOR_STATE[State.NEW]):
        if item.state == State.NEW and not item.exception_reason and item.queue == EXCEPTIONS_QUEUE:
            item.queue = REVIEW_QUEUE
        sla_start(item)
    item.save()
    transition_record(
        item, transition="ehr_update", from_state=item.state, source=EHR, correlation_id=event.correlation_id,
        reason=f"{event.resource_type} {event.resource_id} version {getattr(record, 'version_id', '?') or '?'}: "
        + summary,
    )  # fmt: skip
