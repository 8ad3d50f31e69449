"""Referral use cases. Staff actions: lock, check, transition, save, log, tell the referrer
(outbox, same transaction), return. EHR events arrive through ``handlers.py``."""

from typing import Any

from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from apps.core.errors import ApplicationError, ConflictError
from apps.core.models import ServiceLine
from apps.workflow.models import Outreach, TransitionSource
from apps.workflow.outreach import outreach_failed_count, outreach_record
from apps.workflow.permissions import ensure_can
from apps.workflow.services import transition_record
from apps.workflow.sla import sla_pause, sla_resume, sla_start

from .models import Referral
from .workflow import CLOSED, QUEUE_FOR_STATE, STAFF_TRANSITIONS, TASK_STATUS, State

ABANDON_AFTER_ATTEMPTS = 3
EXCEPTIONS_QUEUE = "exceptions"


def referral_notify_referrer(
    referral: Referral, *, transition_id: int, correlation_id: str = "", business: tuple[str, str] | None = None
) -> None:
    """Queue the referrer's Task update for this state (written in the caller's transaction)."""
    if not referral.task_ref.startswith("Task/"):
        return
    from apps.ehr.services.outbox import outbox_enqueue

    status, code, text = TASK_STATUS[referral.state]
    if business:
        code, text = business
    outbox_enqueue(
        source=referral.source,
        resource_type="Task",
        resource_id=referral.task_ref.split("/", 1)[1],
        changes={
            "status": status,
            "businessStatus": {
                "coding": [{"system": "http://clinops.example.org/fhir/CodeSystem/referral-status", "code": code}],
                "text": text,
            },
            "lastModified": timezone.now().isoformat(),
        },
        if_match_version=referral.task_version,
        dedupe_key=f"referral:{referral.pk}:transition:{transition_id}",
        correlation_id=correlation_id,
    )


def apply_transition(
    referral: Referral,
    name: str,
    *,
    by: Any = None,
    source: str = TransitionSource.STAFF,
    reason: str = "",
    correlation_id: str = "",
    business: tuple[str, str] | None = None,
    **kwargs: Any,
) -> None:
    """Fire a transition on a locked referral; set queue, SLA and open/closed; save; log; notify."""
    method = getattr(referral, name)
    if not can_proceed(method):
        raise ConflictError(
            f"This referral is {referral.get_state_display().lower()}; it cannot be '{name.replace('_', ' ')}' now.",
            code="transition_not_allowed",
        )
    from_state = referral.state
    method(**kwargs)
    now = timezone.now()
    if referral.state in CLOSED:
        referral.is_open, referral.closed_at = False, now
    else:
        queue = QUEUE_FOR_STATE.get(referral.state, referral.queue)
        if referral.state == State.NEEDS_INFO:
            referral.queue = queue
            sla_pause(referral, now=now)
        elif from_state == State.NEEDS_INFO:
            referral.queue = queue
            sla_resume(referral, now=now)
        elif queue != referral.queue and referral.queue != EXCEPTIONS_QUEUE:
            referral.queue = queue
            sla_start(referral, now=now)
    referral.save()
    logged = transition_record(
        referral, transition=name, from_state=from_state, by=by, source=source, reason=reason,
        correlation_id=correlation_id,
    )  # fmt: skip
    referral_notify_referrer(referral, transition_id=logged.pk, correlation_id=correlation_id, business=business)


def _staff(referral_id: int, by: Any, name: str, *, reason: str = "", **kwargs: Any) -> Referral:
    if name not in STAFF_TRANSITIONS:
        raise ApplicationError(f"'{name}' is not a staff action.", code="not_a_staff_action")
    referral = Referral.objects.select_for_update(of=("self",)).select_related("site", "source").get(pk=referral_id)
    ensure_can(by, referral, "work")
    apply_transition(referral, name, by=by, reason=reason, **kwargs)
    return referral


@transaction.atomic
def referral_triage(*, referral_id: int, by: Any) -> Referral:
    """Start triage of a received referral."""
    return _staff(referral_id, by, "triage")


@transaction.atomic
def referral_accept(*, referral_id: int, by: Any, note: str = "") -> Referral:
    """Accept a triaged referral; the referrer is told after commit."""
    return _staff(referral_id, by, "accept", reason=note)


@transaction.atomic
def referral_request_auth(*, referral_id: int, by: Any, note: str = "") -> Referral:
    """Hold an accepted referral until the payer authorises it."""
    return _staff(referral_id, by, "request_auth", reason=note)


@transaction.atomic
def referral_authorize(*, referral_id: int, by: Any, note: str = "") -> Referral:
    """Authorisation received: on to scheduling."""
    return _staff(referral_id, by, "authorize", reason=note)


@transaction.atomic
def referral_start_scheduling(*, referral_id: int, by: Any) -> Referral:
    """An accepted referral needs no authorisation: on to scheduling."""
    return _staff(referral_id, by, "start_scheduling")


@transaction.atomic
def referral_request_info(*, referral_id: int, by: Any, question: str) -> Referral:
    """Send a referral back to the referrer with a question; its SLA clock stops."""
    if not question.strip():
        raise ApplicationError("Say what information is missing; the referrer sees it.", code="question_required")
    return _staff(referral_id, by, "request_info", reason=question.strip())


@transaction.atomic
def referral_receive_info(*, referral_id: int, by: Any, note: str = "") -> Referral:
    """The referrer answered: back to triage; the SLA clock restarts where it stopped."""
    return _staff(referral_id, by, "receive_info", reason=note)


@transaction.atomic
def referral_decline(*, referral_id: int, by: Any, reason_code: str, note: str = "") -> Referral:
    """Decline with a coded reason (referral-decline-reason code set)."""
    if not reason_code:
        raise ApplicationError("Choose a decline reason.", code="reason_required")
    return _staff(referral_id, by, "decline", reason=note or reason_code, reason_code=reason_code)


@transaction.atomic
def referral_cancel(*, referral_id: int, by: Any, reason: str) -> Referral:
    """Cancel at the referrer's or patient's request."""
    if not reason.strip():
        raise ApplicationError("Say why the referral is cancelled.", code="reason_required")
    return _staff(referral_id, by, "cancel", reason=reason.strip())


@transaction.atomic
def referral_abandon(*, referral_id: int, by: Any, reason: str = "") -> Referral:
    """Stop trying: the patient could not be reached or scheduled."""
    referral = Referral.objects.select_for_update().get(pk=referral_id)
    failed = outreach_failed_count(workflow=Referral.WORKFLOW, item_id=referral.pk)
    overdue = referral.due_at <= timezone.now()
    if failed < ABANDON_AFTER_ATTEMPTS and not overdue:
        raise ConflictError(
            f"Abandon after {ABANDON_AFTER_ATTEMPTS} failed outreach attempts or a missed SLA ({failed} so far).",
            code="too_early_to_abandon",
        )
    return _staff(referral_id, by, "abandon", reason=reason or f"{failed} failed outreach attempts")


def referral_outreach_record(*, referral_id: int, by: Any, channel: str, outcome: str, note: str = "") -> Outreach:
    """Record a contact attempt with the patient; returns it (the Nth failure offers abandonment)."""
    return outreach_record(
        workflow=Referral.WORKFLOW, item_id=referral_id, by=by, channel=channel, outcome=outcome, note=note
    )


@transaction.atomic
def referral_forward(*, referral_id: int, by: Any, service_line_code: str, reason: str) -> Referral:
    """Send a referral to another service line (an explicit, logged action; state unchanged)."""
    referral = Referral.objects.select_for_update().get(pk=referral_id)
    ensure_can(by, referral, "work")
    line = ServiceLine.objects.filter(code=service_line_code, sites=referral.site).first()
    if line is None:
        raise ApplicationError("That service line is not offered at this site.", code="unknown_service_line")
    if not reason.strip():
        raise ApplicationError("Say why it goes to another service line.", code="reason_required")
    referral.service_line = line
    referral.save(update_fields=["service_line", "updated_at"])
    transition_record(referral, transition="forward", from_state=referral.state, by=by, reason=reason.strip())
    return referral


@transaction.atomic
def referral_merge(*, referral_id: int, by: Any, into_id: int, note: str = "") -> Referral:
    """Fold a duplicate into the referral it duplicates (same site and patient): the duplicate
    is closed as cancelled-duplicate, both timelines say so, the referrer hears 'duplicate'."""
    if referral_id == into_id:
        raise ApplicationError("A referral cannot be merged into itself.", code="merge_self")
    locked = {
        r.pk: r
        for r in Referral.objects.select_for_update(of=("self",))
        .select_related("site", "source")
        .filter(pk__in=[referral_id, into_id])
        .order_by("pk")  # one lock order: two opposite merges cannot deadlock
    }
    duplicate, into = locked.get(referral_id), locked.get(into_id)
    if duplicate is None or into is None:
        raise ApplicationError("Both referrals must exist.", code="merge_unknown")
    ensure_can(by, duplicate, "work")
    ensure_can(by, into, "work")
    if (duplicate.site_id, duplicate.patient_ref) != (into.site_id, into.patient_ref) or not into.is_open:
        raise ConflictError(
            "Merge only into an open referral for the same patient at the same site.", code="merge_mismatch"
        )
    duplicate.possible_duplicate_of = into
    apply_transition(
        duplicate, "merge", by=by, reason=f"Merged into referral #{into.pk}" + (f": {note}" if note else ""),
        business=("duplicate", "Merged with another referral"),
    )  # fmt: skip
    transition_record(
        into, transition="merge_in", from_state=into.state, by=by, reason=f"Referral #{duplicate.pk} merged in"
    )
    return duplicate


def allowed_actions(referral: Referral, user: Any) -> list[str]:
    """The staff transitions this user may fire now (the item page shows only these)."""
    from apps.workflow.permissions import can

    if not can(user, referral, "work"):
        return []
    names = [t.name for t in referral.get_available_state_transitions() if t.name in STAFF_TRANSITIONS]
    names = [n for n in names if n != "abandon" or _abandon_offered(referral)]
    return [n for n in names if n != "merge" or referral.possible_duplicate_of_id]


def _abandon_offered(referral: Referral) -> bool:
    failed = outreach_failed_count(workflow=Referral.WORKFLOW, item_id=referral.pk)
    return failed >= ABANDON_AFTER_ATTEMPTS or referral.due_at <= timezone.now()


def referrals_reroute_held(system: str, codes: frozenset[str]) -> int:
    """A mapping became active for these codes: route the referrals held for them and take them
    out of the exceptions queue (called after the activating transaction commits)."""
    from .routing import route_for, service_line_for, specialty_canonical

    specialties = [f"{system}|{code}" for code in codes]
    held = Referral.objects.filter(is_open=True, queue=EXCEPTIONS_QUEUE, specialty__in=specialties)
    moved = 0
    for referral_id in held.values_list("pk", flat=True):
        with transaction.atomic():
            referral = (
                Referral.objects.select_for_update(of=("self",)).select_related("service_request").get(pk=referral_id)
            )
            canonical = specialty_canonical(referral.specialty)
            if canonical.code is None or referral.queue != EXCEPTIONS_QUEUE:
                continue
            route = route_for(referral.source_id, referral.service_request.performer_ref, canonical.code)
            referral.site = route.site
            referral.service_line = route.service_line or service_line_for(route.site, canonical.code)
            referral.canonical_specialty, referral.exception_reason = canonical.code, ""
            referral.queue = QUEUE_FOR_STATE.get(referral.state, "triage")
            sla_start(referral)
            referral.save()
            transition_record(
                referral,
                transition="route",
                from_state=referral.state,
                source=TransitionSource.SYSTEM,
                reason=f"Specialty {referral.specialty} now maps to {canonical.code}",
            )
            moved += 1
    return moved
