"""Change control of concept map versions: one function per use case.

Each one locks, checks (steward, state, four eyes), transitions, saves, writes the review
history, and leaves side effects (the translation table, activation hooks) to after commit.
Locks are always taken map first, then version, so two services never wait on each other in
a circle. Every write happens inside ``audit_actor(by)``: django-auditlog records the actor
whether the call comes from the admin, a command or a Celery task.
"""

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from django.db import DatabaseError, transaction
from django.db.models import F, Max
from django.utils import timezone
from django_fsm import can_proceed

from apps.core.errors import ApplicationError, ConflictError
from apps.core.models import User

from ..hooks import mapping_activated_schedule, review_announce
from ..impact import impact_reroute_schedule
from ..models import (
    Concept,
    ConceptMap,
    ConceptMapComment,
    ConceptMapElement,
    ConceptMapVersion,
    TranslationGeneration,
    UnmappedCode,
)
from ..rows import Row, rows_check
from ..selectors import map_active_version, map_open_version, newly_mapped_codes, rows_diff, version_rows
from ..translation import translation_cache_expire
from ..workflow import FourEyesError, State, ensure_steward, four_eyes_problem
from .actor import audit_actor

logger = logging.getLogger(__name__)
Action = ConceptMapComment.Action


def generation_bump(now: datetime) -> None:
    """Tell every process that what translate() serves has changed (committed with the caller)."""
    token = uuid.uuid4().hex
    if not TranslationGeneration.objects.filter(pk=1).update(value=F("value") + 1, token=token, changed_at=now):
        TranslationGeneration.objects.get_or_create(pk=1, defaults={"value": 1, "token": token, "changed_at": now})
    transaction.on_commit(translation_cache_expire)


def version_lock(version_id: int) -> ConceptMapVersion:
    try:
        return ConceptMapVersion.objects.select_for_update().get(pk=version_id)
    except ConceptMapVersion.DoesNotExist:
        raise ApplicationError(f"There is no concept map version {version_id}.", code="not_found") from None


def map_lock(map_id: int) -> ConceptMap:
    try:
        return ConceptMap.objects.select_for_update().select_related("source_system", "target_system").get(pk=map_id)
    except ConceptMap.DoesNotExist:
        raise ApplicationError(f"There is no concept map {map_id}.", code="not_found") from None


def _ensure_can(version: ConceptMapVersion, transition: str, verb: str) -> None:
    if not can_proceed(getattr(version, transition)):
        raise ConflictError(
            f"{version} is {version.get_state_display().lower()}; it cannot be {verb} now.",
            code="transition_not_allowed",
        )


def comment_add(version: ConceptMapVersion, by: User | None, action: str, text: str, now: datetime) -> None:
    ConceptMapComment(version=version, by=by, action=action, text=text, at=now).save()


def _required(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ApplicationError(f"A {what} is required.", code=f"{what}_required")
    return text


def target_codes(concept_map: ConceptMap) -> set[str]:
    """The codes a row of this map may point to: the target system's active concepts."""
    return set(
        Concept.objects.filter(system_id=concept_map.target_system_id, active=True).values_list("code", flat=True)
    )


def version_create(
    *,
    concept_map: ConceptMap,
    by: User | None,  # None: the system (reference data, demo)
    rows: Sequence[Row],
    based_on: ConceptMapVersion | None,
    note: str,
    now: datetime,
) -> ConceptMapVersion:
    """A new draft holding ``rows`` (the caller holds the map lock and has checked the rows)."""
    if (open_version := map_open_version(concept_map.pk)) is not None:
        raise ConflictError(
            f"{open_version} is already open ({open_version.get_state_display().lower()}); "
            "continue it, or retire it, before starting another change.",
            code="version_open",
        )
    number = (concept_map.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = ConceptMapVersion(
        map=concept_map, number=number, based_on=based_on, note=note, author=by, last_editor=by, created_at=now
    )
    version.save()
    for row in rows:
        ConceptMapElement(version=version, **row.as_fields()).save()
    return version


@transaction.atomic
def version_draft_create(*, map_id: int, by: User, note: str = "") -> ConceptMapVersion:
    """Start a change: a new draft copied from the active version (empty if there is none)."""
    ensure_steward(by)
    now = timezone.now()
    with audit_actor(by):
        concept_map = map_lock(map_id)
        active = map_active_version(map_id)
        version = version_create(
            concept_map=concept_map, by=by, rows=version_rows(active), based_on=active, note=note.strip(), now=now
        )
        copied = f"Copied from version {active.number}." if active else "Started empty: the map has no active version."
        comment_add(version, by, Action.DRAFT, f"{copied} {note}".strip(), now)
    return version


@transaction.atomic
def version_edit(
    *,
    version_id: int,
    by: User,
    upserts: Sequence[tuple[int | None, Row]] = (),
    deletes: Sequence[int] = (),
    note: str | None = None,
) -> ConceptMapVersion:
    """Change a draft's rows (update by id, add with id None, remove by id) and its note.

    The whole resulting row set is checked before anything is written; only a draft changes."""
    ensure_steward(by)
    version = version_lock(version_id)
    if version.state != State.DRAFT:
        raise ConflictError(
            f"{version} is {version.get_state_display().lower()}: only a draft can be edited. "
            "Start a new draft (or reject this version back to draft) to change it.",
            code="not_a_draft",
        )
    current = {element.pk: element for element in version.elements.all()}
    unknown = sorted(({pk for pk, _ in upserts if pk is not None} | set(deletes)) - current.keys())
    if unknown:
        raise ApplicationError(f"Rows {unknown} do not belong to {version}.", code="unknown_rows")
    result = {pk: Row.of(element) for pk, element in current.items() if pk not in set(deletes)}
    added: list[Row] = []
    for pk, row in upserts:
        if pk is None:
            added.append(row)
        elif pk in result:
            result[pk] = row
    concept_map = version.map
    rows_check(
        [*result.values(), *added], target_codes=target_codes(concept_map), target_title=concept_map.target_system.title
    )
    with audit_actor(by):
        for pk in deletes:
            current[pk].delete()
        for pk, row in result.items():
            if row != Row.of(current[pk]):
                element = current[pk]
                for name, value in row.as_fields().items():
                    setattr(element, name, value)
                element.save()
        for row in added:
            ConceptMapElement(version=version, **row.as_fields()).save()
        version.last_editor = by
        if note is not None:
            version.note = note.strip()
        version.save()
    return version


@transaction.atomic
def version_submit(*, version_id: int, by: User, comment: str = "") -> ConceptMapVersion:
    """Send a draft for review; it must have rows, obey the rules and differ from the active version."""
    ensure_steward(by)
    version = version_lock(version_id)
    _ensure_can(version, "submit", "submitted for review")
    rows = version_rows(version)
    if not rows:
        raise ApplicationError(f"{version} has no rows; add at least one before submitting it.", code="empty")
    concept_map = version.map
    rows_check(rows, target_codes=target_codes(concept_map), target_title=concept_map.target_system.title)
    active = map_active_version(concept_map.pk)
    if active is not None and not any(rows_diff(version_rows(active), rows)):
        raise ApplicationError(
            f"{version} is the same as the active version {active.number}; there is nothing to review.",
            code="no_changes",
        )
    now = timezone.now()
    with audit_actor(by):
        version.submit(by=by, now=now)
        version.save()
        comment_add(version, by, Action.SUBMIT, comment.strip(), now)
    review_announce(version, by=by)
    return version


@transaction.atomic
def version_approve(*, version_id: int, by: User, comment: str = "") -> ConceptMapVersion:
    """Approve a version in review. Four eyes: not its author, last editor or submitter."""
    ensure_steward(by)
    version = version_lock(version_id)
    _ensure_can(version, "approve", "approved")
    if problem := four_eyes_problem(version, by):
        raise FourEyesError(problem)
    now = timezone.now()
    with audit_actor(by):
        version.approve(by=by, now=now)
        version.save()
        comment_add(version, by, Action.APPROVE, comment.strip(), now)
    return version


@transaction.atomic
def version_reject(*, version_id: int, by: User, comment: str) -> ConceptMapVersion:
    """Send a version in review (or approved, not yet active) back to draft; a comment is required."""
    ensure_steward(by)
    comment = _required(comment, "comment")
    version = version_lock(version_id)
    _ensure_can(version, "reject", "rejected")
    now = timezone.now()
    with audit_actor(by):
        version.reject(by=by, now=now)
        version.save()
        comment_add(version, by, Action.REJECT, comment, now)
    return version


def _activate(version: ConceptMapVersion, *, by: User | None, now: datetime) -> ConceptMapVersion:
    """Make a locked, approved version the active one (the caller holds the map lock)."""
    concept_map = version.map
    previous = ConceptMapVersion.objects.select_for_update().filter(map_id=concept_map.pk, state=State.ACTIVE).first()
    before = version_rows(previous)
    if previous is not None:
        # Retired first: the database allows one active version per map.
        previous.supersede(by=by, now=now, successor_number=version.number)
        previous.save()
        comment_add(previous, by, Action.RETIRE, previous.retired_reason, now)
    version.activate(by=by, now=now)
    version.save()
    replaced = f"Replaced version {previous.number}." if previous else "The map's first active version."
    comment_add(version, by, Action.ACTIVATE, replaced, now)
    after = version_rows(version)
    handled = {row.source_code for row in after}
    for unmapped in UnmappedCode.objects.filter(
        system=concept_map.source_system.url, code__in=handled, resolved_at__isnull=True
    ):
        unmapped.resolved_at = now
        unmapped.resolved_by_version = version
        unmapped.save()
    generation_bump(now)
    mapping_activated_schedule(concept_map.source_system.url, newly_mapped_codes(before, after))
    # Every open item the impact preview listed is re-routed, after commit (the same selection).
    impact_reroute_schedule(version.pk)
    return version


@transaction.atomic
def version_activate(*, version_id: int, by: User, at: datetime | None = None) -> ConceptMapVersion:
    """Activate an approved version now (replacing the active one atomically), or schedule it for ``at``."""
    ensure_steward(by)
    now = timezone.now()
    map_id = ConceptMapVersion.objects.filter(pk=version_id).values_list("map_id", flat=True).first()
    if map_id is None:
        raise ApplicationError(f"There is no concept map version {version_id}.", code="not_found")
    with audit_actor(by):
        map_lock(map_id)
        version = version_lock(version_id)
        if at is not None and at > now:
            _ensure_can(version, "schedule", "scheduled")
            version.schedule(by=by, at=at)
            version.save()
            comment_add(version, by, Action.SCHEDULE, f"To become active at {at.isoformat()}.", now)
            return version
        _ensure_can(version, "activate", "activated")
        return _activate(version, by=by, now=now)


def versions_activate_due(*, now: datetime | None = None) -> int:
    """Beat: activate approved versions whose scheduled time has come, each in its own transaction."""
    now = now or timezone.now()
    due = ConceptMapVersion.objects.filter(state=State.APPROVED, activate_at__lte=now).values_list("pk", "map_id")
    activated = 0
    for version_id, map_id in list(due):
        try:
            with transaction.atomic():
                map_lock(map_id)
                version = version_lock(version_id)
                if version.state != State.APPROVED or version.activate_at is None or version.activate_at > now:
                    continue  # rejected, activated or rescheduled meanwhile
                with audit_actor(version.activation_scheduled_by):
                    _activate(version, by=version.activation_scheduled_by, now=now)
                activated += 1
        except (ApplicationError, DatabaseError):
            logger.exception("terminology: scheduled activation of version %s failed", version_id)
    return activated


@transaction.atomic
def version_retire(*, version_id: int, by: User, reason: str) -> ConceptMapVersion:
    """Retire a version (an abandoned change, or the active one with no successor); a reason is required."""
    ensure_steward(by)
    reason = _required(reason, "reason")
    now = timezone.now()
    map_id = ConceptMapVersion.objects.filter(pk=version_id).values_list("map_id", flat=True).first()
    if map_id is None:
        raise ApplicationError(f"There is no concept map version {version_id}.", code="not_found")
    with audit_actor(by):
        map_lock(map_id)
        version = version_lock(version_id)
        _ensure_can(version, "retire", "retired")
        was_active = version.state == State.ACTIVE
        version.retire(by=by, now=now, reason=reason)
        version.save()
        comment_add(version, by, Action.RETIRE, reason, now)
        if was_active:
            generation_bump(now)
    return version
