"""Results use cases of EHR events, one service each (``handlers.py`` parses the resource and
calls one of them). They run inside the ingestion pipeline's transaction.

A final, amended or corrected DiagnosticReport → one item; an Observation → one item unless it
belongs to a report (then it refreshes the report's item). A new version that changes the
values, or is amended/corrected, reopens a reviewed item and says what changed;
entered-in-error (or cancelled, or a delete) voids it with the reason. Idempotent: a version
that changes nothing is only logged.
"""

from dataclasses import dataclass
from itertools import groupby
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.ehr.handlers import ChangeFailed
from apps.ehr.models import DiagnosticReport, Observation
from apps.terminology.services.unmapped import unmapped_record
from apps.workflow.models import TransitionSource
from apps.workflow.sla import sla_start
from apps.workflow.transitions import item_open, transition_apply, transition_record

from ..clinicians import clinician_resolve, covering_for, results_set_up
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


@dataclass(frozen=True)
class ResultVersion:
    """One change of a result resource as its handler read it: a version to receive, or the
    result voided when ``void_status`` says so (entered-in-error, cancelled or deleted)."""

    event: Event
    resource: dict[str, Any]
    record: Any  # the store row (None when deleted)
    is_result: bool = True
    void_status: str = ""
    note: str = ""


@transaction.atomic
def results_from_ehr(*, versions: list[ResultVersion]) -> None:
    """A batch of result versions, in order, each as ``result_receive_from_ehr`` or
    ``result_void_from_ehr`` says; what they read (report memberships, observations, items) is
    looked up together, once per source. A version that fails raises ``ChangeFailed`` naming its
    message (the caller undoes the batch and runs it again without that message)."""
    for _, group in groupby(versions, key=lambda v: v.event.source_id):
        run = list(group)
        batch = _Batch(run[0].event.source_id, run)
        for version in run:
            try:
                _take(batch, version)
            except Exception as exc:
                raise ChangeFailed(version.event.message_id) from exc


@transaction.atomic
def result_receive_from_ehr(
    *, event: Event, resource: dict[str, Any], record: Any, is_result: bool = True
) -> ResultItem | None:
    """A version of a result: a new item (to its ordering clinician, or whoever covers them),
    or a refresh of its item (reopened when a reviewed result changed). An observation that
    belongs to a report refreshes the report's item instead; a report folds in the items its
    observations made before it arrived. Preliminary versions are not acted on yet."""
    version = ResultVersion(event, resource, record, is_result)
    return _receive(_Batch(event.source_id, [version]), version)


@transaction.atomic
def result_void_from_ehr(
    *, event: Event, status: str, note: str = "", record: Any = None, is_result: bool = True
) -> ResultItem | None:
    """The result was entered in error, cancelled or deleted in the EHR: its item is voided with
    the reason (once). ``record`` is the store row when the resource was not deleted."""
    version = ResultVersion(event, {}, record, is_result, void_status=status, note=note)
    return _void(_Batch(event.source_id, [version]), version)


class _Batch:
    """What the result versions of one source read, looked up together (one query each for
    report memberships, the reports' observations and the items, locked) and kept current as
    the versions are taken in order: a report earlier in the batch is seen by its observations."""

    def __init__(self, source_id: int, versions: list[ResultVersion]) -> None:
        self.source_id = source_id
        ids = {kind: {v.event.resource_id for v in versions if v.event.resource_type == kind} for kind in KINDS}
        self.reports_of: dict[str, set[str]] = {i: set() for i in ids["Observation"]}  # observation → reports
        self.members_of: dict[str, set[str]] = {i: set() for i in ids["DiagnosticReport"]}  # report → observations
        if self.reports_of or self.members_of:
            kept = ReportMember.objects.filter(
                Q(observation_id__in=self.reports_of) | Q(report_id__in=self.members_of), source_id=source_id
            ).values_list("observation_id", "report_id")
            for observation_id, report_id in kept:
                self.reports_of.get(observation_id, set()).add(report_id)
                self.members_of.get(report_id, set()).add(observation_id)
        listed = {i for v in versions if v.event.resource_type == "DiagnosticReport" for i in _listed(v.record)}
        self.observations: dict[str, Observation | None] = {}
        self._observations_load(listed)
        self.items: dict[tuple[str, str], ResultItem | None] = {}
        self._items_load({"DiagnosticReport": ids["DiagnosticReport"], "Observation": ids["Observation"] | listed})
        self._set_up: bool | None = None

    def _observations_load(self, ids: set[str]) -> None:
        missing = ids - self.observations.keys()
        if missing:
            self.observations.update(dict.fromkeys(missing))
            self.observations.update(
                (o.fhir_id, o) for o in Observation.objects.filter(source_id=self.source_id, fhir_id__in=missing)
            )

    def _items_load(self, ids: dict[str, set[str]]) -> None:
        for kind, wanted in ids.items():
            missing = {i for i in wanted if (kind, i) not in self.items}
            if not missing:
                continue
            self.items.update(((kind, i), None) for i in missing)
            locked = ResultItem.objects.select_for_update(of=("self",)).filter(
                source_id=self.source_id, resource_type=kind, resource_id__in=missing
            )
            self.items.update(((kind, item.resource_id), item) for item in locked)

    def item(self, kind: str, resource_id: str) -> ResultItem | None:
        """The result's item (locked), or None."""
        self._items_load({kind: {resource_id}})
        return self.items[kind, resource_id]

    def members(self, resource_type: str, record: Any) -> list[Observation]:
        """The observations of a result: itself, or those its report lists (in its order)."""
        if resource_type == "Observation":
            return [record] if record is not None else []
        ids = _listed(record)
        self._observations_load(set(ids))
        return [o for o in (self.observations[i] for i in ids) if o is not None]

    def set_up(self) -> bool:
        """Whether the source is set up for results follow-up (asked once per batch)."""
        if self._set_up is None:
            self._set_up = results_set_up(self.source_id)
        return self._set_up

    def members_set(self, report_id: str, observation_ids: set[str]) -> None:
        self.members_of[report_id] = observation_ids
        for observation_id, reports in self.reports_of.items():
            if observation_id in observation_ids:
                reports.add(report_id)
            else:
                reports.discard(report_id)


KINDS = ("DiagnosticReport", "Observation")


def _listed(report: Any) -> list[str]:
    """The Observation ids a report lists in ``result``."""
    return [r.split("/", 1)[1] for r in (report.result_refs if report else None) or [] if r.startswith("Observation/")]


def _take(batch: _Batch, version: ResultVersion) -> None:
    if version.void_status:
        _void(batch, version)
    else:
        _receive(batch, version)


def _receive(batch: _Batch, version: ResultVersion) -> ResultItem | None:
    event, resource, record = version.event, version.resource, version.record
    _members_keep(batch, event, record, deleted=False)
    if _report_value(batch, event, record, deleted=False):
        return None
    item = None
    if version.is_result and resource.get("status", "") in ACCEPTED:
        item = batch.item(event.resource_type, event.resource_id)
        if item is None:
            # No item yet: only a source set up for results follow-up makes one (asked once).
            if (event.resource_type != "Observation" or resource.get("subject")) and batch.set_up():
                item = _create(event, resource, record, batch.members(event.resource_type, record))
                batch.items[event.resource_type, event.resource_id] = item
        elif item.state != State.VOIDED:
            _refresh(item, event, batch.members(event.resource_type, record), record)
    _fold(batch, event, record)
    return item


def _void(batch: _Batch, version: ResultVersion) -> ResultItem | None:
    event, status, deleted = version.event, version.void_status, version.void_status == "deleted"
    _members_keep(batch, event, version.record, deleted=deleted)
    if _report_value(batch, event, version.record, deleted=deleted):
        return None
    item = batch.item(event.resource_type, event.resource_id) if version.is_result else None
    if item is not None and item.state != State.VOIDED:
        note = f": {version.note}" if version.note else ""
        reason = f"{event.resource_type} {event.resource_id} {status} in the EHR{note}"
        transition_apply(item, "void", source=EHR, reason=reason[:1000], correlation_id=event.correlation_id,
                         void_reason=reason[:300])  # fmt: skip
    if not deleted:
        _fold(batch, event, version.record)
    return item


def interpretation_for(item: ResultItem) -> Interpretation:
    """Re-read an item's criticality from the store (after a mapping became active)."""
    model = DiagnosticReport if item.resource_type == "DiagnosticReport" else Observation
    record = model.objects.filter(source_id=item.source_id, fhir_id=item.resource_id).first()
    return criticality_of(m.raw for m in _members(item.source_id, item.resource_type, record))


def _members(source_id: int, resource_type: str, record: Any) -> list[Observation]:
    if resource_type == "Observation":
        return [record] if record is not None else []
    ids = _listed(record)
    found = {o.fhir_id: o for o in Observation.objects.filter(source_id=source_id, fhir_id__in=ids)}
    return [found[i] for i in ids if i in found]


def _report_value(batch: _Batch, event: Event, record: Any, *, deleted: bool) -> bool:
    """An observation of a report refreshes the report's item (not on a delete); True when it
    belongs to a report (then it is never an item of its own)."""
    if event.resource_type != "Observation" or record is None:
        return False
    report_ids = batch.reports_of.get(event.resource_id, set())
    if not report_ids:
        return False  # listed by no report: nothing to read
    report = (
        DiagnosticReport.objects.filter(
            source_id=event.source_id,
            fhir_id__in=report_ids,
            subject_ref=getattr(record, "subject_ref", ""),
            deleted=False,
        )
        .order_by("pk")
        .first()
    )
    if report is None:
        return False
    item = batch.item("DiagnosticReport", report.fhir_id)
    if item is not None and item.state != State.VOIDED and not deleted:
        _refresh(item, event, batch.members("DiagnosticReport", report), report)
    return True


def _members_keep(batch: _Batch, event: Event, report: Any, *, deleted: bool) -> None:
    """Remember which observations a report lists (forgotten when the report is deleted)."""
    if event.resource_type != "DiagnosticReport":
        return
    ids = set() if deleted or report is None else {i[:128] for i in _listed(report)}
    if batch.members_of.get(event.resource_id) == ids:
        return
    kept = ReportMember.objects.filter(source_id=event.source_id, report_id=event.resource_id)
    kept.exclude(observation_id__in=ids).delete()
    ReportMember.objects.bulk_create(
        [ReportMember(source_id=event.source_id, observation_id=i, report_id=event.resource_id) for i in ids],
        ignore_conflicts=True,
    )
    batch.members_set(event.resource_id, ids)


def _fold(batch: _Batch, event: Event, report: Any) -> None:
    """Observations that arrived before their report made items of their own: fold them in."""
    if event.resource_type != "DiagnosticReport" or report is None:
        return
    for obs in batch.members("DiagnosticReport", report):
        standalone = batch.item("Observation", obs.fhir_id)
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
