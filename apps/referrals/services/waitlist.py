"""The wait list and earlier-slot offers (issue 15).

A scheduled referral joins the wait list. When a slot frees up (an Appointment holding it is
cancelled, in the EHR or from clinops, and the cancellation comes back through ingestion), the
best-placed waiting referral is offered it: by priority, then how long the referral has waited,
then how far away its current appointment is; only referrals the slot fits (specialty, site) and
would bring forward. ``REFERRAL_OFFER_PARALLEL`` patients are offered one slot at once; each offer
is held for ``REFERRAL_OFFER_HOLD_HOURS``; the first to accept rebooks through the outbox
(``referral_book``) and the others' offers are withdrawn; declining or expiry offers the slot to
the next one. The site's schedulers are told when offers wait. Every offer and answer is on the
referral's timeline.
"""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apps.core.errors import ConflictError
from apps.core.events import EventKind, StaffEvent, event_emit
from apps.core.models import User
from apps.core.roles import Role
from apps.ehr.models import Appointment, Schedule, Slot
from apps.workflow.models import OutreachChannel, TransitionSource
from apps.workflow.permissions import ensure_can
from apps.workflow.transitions import item_lock, transition_record

from ..models import Referral, SlotOffer, WaitListEntry
from ..workflow import HAS_APPOINTMENT
from .booking import _busy_slot_refs, _schedule_dict, _schedule_fits, _when, referral_book

Status = SlotOffer.Status


def _days(days: float) -> str:
    return f"{days:g} day" + ("" if days == 1 else "s")


def offer_hold() -> timedelta:
    return timedelta(hours=float(getattr(settings, "REFERRAL_OFFER_HOLD_HOURS", 4)))


def offers_at_once() -> int:
    """How many waiting patients are offered one freed slot at the same time (at least one)."""
    return max(1, int(getattr(settings, "REFERRAL_OFFER_PARALLEL", 1)))


@transaction.atomic
def waitlist_join(*, referral_id: int, by: User) -> WaitListEntry:
    """Put a scheduled referral on the wait list for an earlier slot (again, if it left)."""
    referral = item_lock(Referral.WORKFLOW, referral_id)
    ensure_can(by, referral, "work")
    if referral.state not in HAS_APPOINTMENT:
        raise ConflictError("Only a referral with an appointment can wait for an earlier one.", code="not_scheduled")
    entry, _ = WaitListEntry.objects.update_or_create(
        referral=referral, defaults={"active": True, "joined_at": timezone.now(), "joined_by": by, "left_at": None}
    )
    transition_record(referral, transition="wait_list_join", from_state=referral.state, by=by,
                      reason="Waiting for an earlier slot")  # fmt: skip
    return entry


@transaction.atomic
def waitlist_leave(*, referral_id: int, by: User | None = None, reason: str = "Left the wait list") -> None:
    """Take a referral off the wait list (its open offer, if any, is withdrawn)."""
    referral = item_lock(Referral.WORKFLOW, referral_id)
    if by is not None:
        ensure_can(by, referral, "work")
    if WaitListEntry.objects.filter(referral=referral, active=True).update(active=False, left_at=timezone.now()):
        transition_record(referral, transition="wait_list_leave", from_state=referral.state, by=by, reason=reason)
    # An offer still waiting for this patient's answer is declined for them: its slot goes to the next in line.
    for offer_id in SlotOffer.objects.filter(referral=referral, status=Status.OPEN).values_list("pk", flat=True):
        offer = _decide(offer_id, by, Status.DECLINED)
        transition_record(referral, transition="offer_declined", from_state=referral.state, by=by,
                          reason=f"Left the wait list: {reason}")  # fmt: skip
        slot_offer_next(source_id=referral.source_id, slot_ref=offer.slot_ref)


def _fits(referral: Referral, slot: Slot) -> bool:
    schedule = Schedule.objects.filter(source_id=slot.source_id, fhir_id=slot.schedule_ref.partition("/")[2]).first()
    return schedule is not None and _schedule_fits(referral, _schedule_dict(schedule))


def _current_start(referral: Referral) -> datetime | None:
    appointment_id = referral.appointment_ref.partition("/")[2]
    row = Appointment.objects.filter(source_id=referral.source_id, fhir_id=appointment_id).only("start").first()
    return row.start if row else None


def slot_offer_next(*, source_id: int, slot_ref: str, now: datetime | None = None) -> list[SlotOffer]:
    """Offer a free slot to the best-placed waiting referrals that have not been offered it yet,
    until ``offers_at_once()`` offers are open (none when it is taken, past, or no one it fits
    would come sooner); the site's schedulers are told. Call in a transaction: the slot's row is
    locked, so two fillers never open more offers than the count."""
    now = now or timezone.now()
    slot = (
        Slot.objects.select_for_update()
        .filter(source_id=source_id, fhir_id=slot_ref.partition("/")[2], deleted=False)
        .first()
    )
    if slot is None or slot.start is None or slot.start <= now or slot.status != "free":
        return []
    wanted = offers_at_once() - SlotOffer.objects.filter(slot_ref=slot_ref, status=Status.OPEN).count()
    if wanted <= 0 or _busy_slot_refs(source_id, [slot_ref]):
        return []
    offered = set(SlotOffer.objects.filter(slot_ref=slot_ref).values_list("referral_id", flat=True))
    candidates = []
    for entry in WaitListEntry.objects.filter(
        active=True, referral__source_id=source_id, referral__state__in=HAS_APPOINTMENT
    ).select_related("referral", "referral__site"):
        referral = entry.referral
        if referral.pk in offered or not _fits(referral, slot):
            continue
        current = _current_start(referral)
        if current is None or current <= slot.start:
            continue
        # Priority first, then the longest wait, then the farthest appointment.
        candidates.append(((referral.priority_rank, referral.opened_at, -current.timestamp()), referral, current))
    made = []
    for _, referral, current in sorted(candidates, key=lambda c: c[0])[:wanted]:
        try:
            with transaction.atomic():
                offer = SlotOffer.objects.create(
                    referral=referral, site_id=referral.site_id, slot_ref=slot_ref, slot_start=slot.start,
                    current_start=current, offered_at=now, expires_at=now + offer_hold(),
                )  # fmt: skip
        except IntegrityError:
            continue  # offered meanwhile
        transition_record(
            referral, transition="offer", from_state=referral.state, source=TransitionSource.SYSTEM,
            reason=f"Earlier slot offered: {_when(referral, slot.start)} instead of {_when(referral, current)}, "
            f"held until {_when(referral, offer.expires_at)}",
        )  # fmt: skip
        made.append(offer)
    _announce(made)
    return made


def _announce(offers: list[SlotOffer]) -> None:
    """Tell each site's schedulers that earlier-slot offers wait for the patients' answers."""
    for site_id in sorted({o.site_id for o in offers}):
        count = sum(1 for o in offers if o.site_id == site_id)
        first = min(o.pk for o in offers if o.site_id == site_id)
        event_emit(
            StaffEvent(
                kind=EventKind.WAITLIST_OFFER, role=Role.SCHEDULER, site_id=site_id,
                title=("An earlier slot is offered to a waiting patient: call them"
                       if count == 1 else f"An earlier slot is offered to {count} waiting patients: call them"),
                link=reverse("referrals:offers"), dedupe_key=f"waitlist-offer:{first}",
            )
        )  # fmt: skip


@transaction.atomic
def slot_freed(*, source_id: int, slot_ref: str) -> list[SlotOffer]:
    """A slot came free (an Appointment holding it was cancelled): offer it to the wait list."""
    return slot_offer_next(source_id=source_id, slot_ref=slot_ref)


def _decide(offer_id: int, by: User | None, status: str) -> SlotOffer:
    offer = SlotOffer.objects.select_for_update().select_related("referral").get(pk=offer_id)
    if offer.status != Status.OPEN:
        raise ConflictError(f"This offer is already {offer.get_status_display().lower()}.", code="offer_closed")
    offer.status, offer.decided_at, offer.decided_by = status, timezone.now(), by
    offer.save(update_fields=["status", "decided_at", "decided_by"])
    return offer


def slot_offer_accept(*, offer_id: int, by: User, channel: str = OutreachChannel.PHONE) -> SlotOffer:
    """The patient takes the earlier slot: rebook through the outbox; the offer is accepted, the
    referral leaves the wait list, and the other patients offered the same slot have their offers
    withdrawn (the first to accept wins). An expired or taken slot is refused with a clear message."""
    offer = SlotOffer.objects.select_related("referral").get(pk=offer_id)
    ensure_can(by, offer.referral, "work")
    if offer.status == Status.OPEN and offer.expires_at <= timezone.now():
        slot_offers_expire()
        raise ConflictError("This offer has expired: the slot went to the next patient.", code="offer_expired")
    with transaction.atomic():
        # Every open offer of the slot, locked in one order: two patients accepting at once queue here.
        rivals = list(
            SlotOffer.objects.select_for_update().filter(slot_ref=offer.slot_ref, status=Status.OPEN).order_by("pk")
        )
        offer = _decide(offer_id, by, Status.ACCEPTED)
        referral_book(referral_id=offer.referral_id, by=by, slot_ref=offer.slot_ref, channel=channel,
                      note=f"Patient accepted the earlier slot ({_days(offer.days_sooner)} sooner)")  # fmt: skip
        waitlist_leave(referral_id=offer.referral_id, by=by, reason="Accepted an earlier slot")
        for rival in rivals:
            if rival.pk != offer.pk:
                _withdraw(rival, taken_at=offer.slot_start)
    return offer


def _withdraw(offer: SlotOffer, *, taken_at: datetime) -> None:
    referral = Referral.objects.select_related("site").get(pk=offer.referral_id)
    offer.status, offer.decided_at = Status.WITHDRAWN, timezone.now()
    offer.save(update_fields=["status", "decided_at"])
    transition_record(
        referral, transition="offer_withdrawn", from_state=referral.state, source=TransitionSource.SYSTEM,
        reason=f"Another patient accepted the slot of {_when(referral, taken_at)} first: the offer is withdrawn "
        "and this patient keeps their appointment.",
    )  # fmt: skip


@transaction.atomic
def slot_offer_decline(*, offer_id: int, by: User, note: str = "") -> SlotOffer:
    """The patient keeps their appointment: the slot is offered to the next waiting referral."""
    offer = SlotOffer.objects.select_related("referral").get(pk=offer_id)
    ensure_can(by, offer.referral, "work")
    offer = _decide(offer_id, by, Status.DECLINED)
    transition_record(offer.referral, transition="offer_declined", from_state=offer.referral.state, by=by,
                      reason=note or "The patient keeps their appointment")  # fmt: skip
    slot_offer_next(source_id=offer.referral.source_id, slot_ref=offer.slot_ref)
    return offer


def slot_offers_expire(*, now: datetime | None = None) -> int:
    """Beat: open offers past their hold expire and go to the next waiting referral; returns how many."""
    now = now or timezone.now()
    count = 0
    for offer_id in SlotOffer.objects.filter(status=Status.OPEN, expires_at__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            offer = SlotOffer.objects.select_for_update().select_related("referral").get(pk=offer_id)
            if offer.status != Status.OPEN:
                continue
            offer.status, offer.decided_at = Status.EXPIRED, now
            offer.save(update_fields=["status", "decided_at"])
            transition_record(offer.referral, transition="offer_expired", from_state=offer.referral.state,
                              source=TransitionSource.TIMER, reason="No answer within the hold time")  # fmt: skip
            slot_offer_next(source_id=offer.referral.source_id, slot_ref=offer.slot_ref, now=now)
            count += 1
    return count


def offer_summary(offer: SlotOffer) -> dict[str, Any]:
    """What the offers list shows of an offer (times in the site's zone)."""
    return {
        "offer": offer,
        "slot": _when(offer.referral, offer.slot_start),
        "current": _when(offer.referral, offer.current_start),
        "expires": _when(offer.referral, offer.expires_at),
    }
