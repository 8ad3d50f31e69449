"""Referral use cases of the staff: lock, check, transition through the workflow engine (which
saves, logs and tells the referrer through the outbox in the same transaction), return."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core.errors import ApplicationError, ConflictError
from apps.core.models import ServiceLine, User
from apps.workflow.models import Outreach
from apps.workflow.outreach import outreach_failed_count, outreach_record
from apps.workflow.permissions import ensure_can
from apps.workflow.transitions import (
    item_lock,
    staff_lock,
    transition_apply,
    transition_record,
)

from ..models import Referral
from ..workflow import STAFF_TRANSITIONS

ABANDON_AFTER_ATTEMPTS = 3


def _staff(referral_id: int, by: User, name: str, *, reason: str = "", **kwargs: Any) -> Referral:
    referral = staff_lock(Referral.WORKFLOW, referral_id, name, by=by, reason=reason)
    transition_apply(referral, name, by=by, reason=reason, **kwargs)
    return referral


@transaction.atomic
def referral_triage(*, referral_id: int, by: User) -> Referral:
    """Start triage of a received referral."""
    return _staff(referral_id, by, "triage")


@transaction.atomic
def referral_accept(*, referral_id: int, by: User, note: str = "") -> Referral:
    """Accept a triaged referral; the referrer is told after commit."""
    return _staff(referral_id, by, "accept", reason=note)


@transaction.atomic
def referral_request_auth(*, referral_id: int, by: User, note: str = "") -> Referral:
    """Hold an accepted referral until the payer authorises it."""
    return _staff(referral_id, by, "request_auth", reason=note)


@transaction.atomic
def referral_authorize(*, referral_id: int, by: User, note: str = "") -> Referral:
    """Authorisation received: on to scheduling."""
    return _staff(referral_id, by, "authorize", reason=note)


@transaction.atomic
def referral_start_scheduling(*, referral_id: int, by: User) -> Referral:
    """An accepted referral needs no authorisation: on to scheduling."""
    return _staff(referral_id, by, "start_scheduling")


@transaction.atomic
def referral_request_info(*, referral_id: int, by: User, question: str) -> Referral:
    """Send a referral back to the referrer with a question; its SLA clock stops."""
    if not question.strip():
        raise ApplicationError("Say what information is missing; the referrer sees it.", code="question_required")
    return _staff(referral_id, by, "request_info", reason=question.strip())


@transaction.atomic
def referral_receive_info(*, referral_id: int, by: User, note: str = "") -> Referral:
    """The referrer answered: back to triage; the SLA clock restarts where it stopped."""
    return _staff(referral_id, by, "receive_info", reason=note)


@transaction.atomic
def referral_decline(*, referral_id: int, by: User, reason_code: str, note: str = "") -> Referral:
    """Decline with a coded reason (referral-decline-reason code set)."""
    if not reason_code:
        raise ApplicationError("Choose a decline reason.", code="reason_required")
    return _staff(referral_id, by, "decline", reason=note or reason_code, reason_code=reason_code)


@transaction.atomic
def referral_cancel(*, referral_id: int, by: User, reason: str) -> Referral:
    """Cancel at the referrer's or patient's request."""
    return _staff(referral_id, by, "cancel", reason=reason.strip())


@transaction.atomic
def referral_abandon(*, referral_id: int, by: User, reason: str = "") -> Referral:
    """Stop trying: the patient could not be reached or scheduled."""
    referral = item_lock(Referral.WORKFLOW, referral_id)
    failed = outreach_failed_count(workflow=Referral.WORKFLOW, item_id=referral.pk)
    overdue = referral.due_at <= timezone.now()
    if failed < ABANDON_AFTER_ATTEMPTS and not overdue:
        raise ConflictError(
            f"Abandon after {ABANDON_AFTER_ATTEMPTS} failed outreach attempts or a missed SLA ({failed} so far).",
            code="too_early_to_abandon",
        )
    return _staff(referral_id, by, "abandon", reason=reason or f"{failed} failed outreach attempts")


def referral_outreach_record(*, referral_id: int, by: User, channel: str, outcome: str, note: str = "") -> Outreach:
    """Record a contact attempt with the patient; returns it (the Nth failure offers abandonment)."""
    return outreach_record(
        workflow=Referral.WORKFLOW, item_id=referral_id, by=by, channel=channel, outcome=outcome, note=note
    )


@transaction.atomic
def referral_forward(*, referral_id: int, by: User, service_line_code: str, reason: str) -> Referral:
    """Send a referral to another service line (an explicit, logged action; state unchanged)."""
    referral = item_lock(Referral.WORKFLOW, referral_id)
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
def referral_merge(*, referral_id: int, by: User, into_id: int, note: str = "") -> Referral:
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
    transition_apply(
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
