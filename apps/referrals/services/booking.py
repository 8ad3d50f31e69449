"""Booking from clinops (issue 15): free slots for a referral, book one after the patient
agreed, rebook, cancel, and the patient's confirmation.

A booking writes a FHIR Appointment (booked, basedOn the ServiceRequest, the slot, the patient,
the practitioner and location) to the EHR through the outbox as a conditional create
(``If-None-Exist`` on an identifier that says "this slot, at this version, is held"): a repeated
send finds the Appointment it made instead of booking twice, and a slot someone else booked first
answers with their Appointment (or 412 when several hold it), which is a refusal. The EHR bumps a
slot's version when it frees it, so a freed slot can be booked again. The referral is "booking" until the EHR answers:
the Appointment it returns goes through the normal ingestion path (which schedules the referral);
a refusal (409/412, another 4xx, or an Appointment for someone else) brings it back to scheduling
with the reason and the next free slots. A rebooking keeps the old appointment until the new one
is booked, then cancels it; a refused rebooking leaves the patient's appointment as it was.

A referral cancelled while "booking" withdraws the Appointment it asked for: at once when the
EHR has already answered, else when its answer comes (the outbox listener). The withdrawal is an
update through the outbox whose guard reads the Appointment on the EHR first and refuses unless
it is still this referral's booking (our booking identifier, based on its ServiceRequest): a
slot someone else held, whose Appointment the conditional create found, is never cancelled.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from apps.core.errors import ApplicationError, ConflictError
from apps.core.models import User
from apps.ehr.client import FhirClientError, client_for
from apps.ehr.models import Appointment, InboxMessage, Location, OutboxMessage, Practitioner, Schedule, Slot
from apps.ehr.services.outbox import outbox_enqueue
from apps.workflow.models import OutreachChannel, OutreachOutcome, Transition, TransitionSource
from apps.workflow.outreach import outreach_record
from apps.workflow.permissions import ensure_can
from apps.workflow.transitions import item_lock, transition_apply, transition_record

from ..models import Referral
from ..routing import RoutingError, route_for, specialty_canonical
from ..workflow import HAS_APPOINTMENT, State

logger = logging.getLogger(__name__)
BOOKING_SYSTEM = "http://clinops.example.org/fhir/booking"
SLOT_HOLD_SYSTEM = "http://clinops.example.org/fhir/slot-hold"
BOOKING_KEY = "referral-booking:"
WITHDRAW_KEY = "referral-withdraw:"
CANCEL_KEY = "referral-cancel:"
NOT_BUSY = ("cancelled", "noshow", "entered-in-error")
HORIZON = timedelta(days=90)
LIVE_PAGES = 3


@dataclass(frozen=True)
class FreeSlot:
    ref: str  # Slot/<id>
    start: datetime
    end: datetime | None
    practitioner_ref: str
    practitioner: str
    location_ref: str
    location: str
    live: bool = False  # seen in the EHR just now, not (yet) in the local store
    version: str = ""  # the slot's meta.versionId


# --- finding slots ----------------------------------------------------------------------


def _schedule_fits(referral: Referral, schedule: dict[str, str]) -> bool:
    """A schedule serves the referral when its specialty is the referral's (canonical) and its
    location routes to the referral's site (the same routes that send referrals to sites)."""
    wanted = referral.canonical_specialty
    if wanted:
        if specialty_canonical(schedule["specialty"]).code != wanted:
            return False
    elif schedule["specialty"] != referral.specialty:
        return False
    try:
        route = route_for(referral.source_id, schedule["location_ref"], wanted)
    except RoutingError:
        return False
    return route.site_id == referral.site_id


def _busy_slot_refs(source_id: int, slot_refs: list[str], *, exclude_referral: int | None = None) -> set[str]:
    """Slots an Appointment in the store holds, or a referral is booking right now."""
    held = set(
        Appointment.objects.filter(source_id=source_id, slot_ref__in=slot_refs, deleted=False)
        .exclude(status__in=NOT_BUSY)
        .values_list("slot_ref", flat=True)
    )
    booking = Referral.objects.filter(source_id=source_id, state=State.BOOKING, booking_slot_ref__in=slot_refs)
    if exclude_referral:
        booking = booking.exclude(pk=exclude_referral)
    return held | set(booking.values_list("booking_slot_ref", flat=True))


def _names(source_id: int, refs: set[str]) -> dict[str, str]:
    ids = {r.split("/", 1)[1]: r for r in refs if "/" in r}
    names = {}
    for p in Practitioner.objects.filter(source_id=source_id, fhir_id__in=ids):
        names[p.reference] = " ".join(x for x in (p.given, p.family) if x) or "A clinician"
    for loc in Location.objects.filter(source_id=source_id, fhir_id__in=ids):
        names[loc.reference] = loc.name or "A location"
    return names


def _schedule_dict(schedule: Schedule | dict[str, Any]) -> dict[str, str]:
    if isinstance(schedule, Schedule):
        return {
            "ref": schedule.reference,
            "specialty": schedule.specialty,
            "practitioner_ref": schedule.practitioner_ref,
            "location_ref": schedule.location_ref,
        }
    from apps.ehr.services.extract import EXTRACTORS

    fields = EXTRACTORS["Schedule"](schedule)
    return {
        "ref": f"Schedule/{schedule['id']}",
        "specialty": fields["specialty"],
        "practitioner_ref": fields["practitioner_ref"],
        "location_ref": fields["location_ref"],
    }


def referral_free_slots(
    *, referral: Referral, live: bool = False, now: datetime | None = None, limit: int = 60
) -> list[FreeSlot]:
    """Free slots for the referral's specialty at its site, soonest first: from the local store
    (busy when an Appointment holds them or a referral is booking them), and with ``live`` also
    from the EHR by a FHIR search when its source has a base URL (the EHR unreachable: the local
    ones only)."""
    now = now or timezone.now()
    schedules = {
        s.reference: _schedule_dict(s)
        for s in Schedule.objects.filter(source_id=referral.source_id, deleted=False).exclude(active=False)
    }
    found: dict[str, tuple[str, datetime, datetime | None, dict[str, str], bool, str]] = {}
    for slot in Slot.objects.filter(
        source_id=referral.source_id, deleted=False, status="free", start__gt=now, start__lt=now + HORIZON
    ).order_by("start", "id")[:2000]:
        schedule = schedules.get(slot.schedule_ref)
        if schedule and _schedule_fits(referral, schedule) and slot.start:
            found[slot.reference] = (slot.reference, slot.start, slot.end, schedule, False, slot.version_id)
    if live and referral.source.base_url:
        for ref, start, end, schedule, version in _live_slots(referral, now):
            if ref in found:  # the EHR's version is the fresher one (a freed slot has a new version)
                found[ref] = (*found[ref][:5], version or found[ref][5])
            elif _schedule_fits(referral, schedule):
                found[ref] = (ref, start, end, schedule, True, version)
    busy = _busy_slot_refs(referral.source_id, list(found), exclude_referral=None)
    free = sorted((v for k, v in found.items() if k not in busy), key=lambda v: (v[1], v[0]))[:limit]
    names = _names(referral.source_id, {v[3][k] for v in free for k in ("practitioner_ref", "location_ref")})
    return [
        FreeSlot(
            ref=ref, start=start, end=end, practitioner_ref=schedule["practitioner_ref"],
            practitioner=names.get(schedule["practitioner_ref"], "A clinician"),
            location_ref=schedule["location_ref"], location=names.get(schedule["location_ref"], "A location"),
            live=is_live, version=version,
        )
        for ref, start, end, schedule, is_live, version in free
    ]  # fmt: skip


def _live_slots(referral: Referral, now: datetime) -> list[tuple[str, datetime, datetime | None, dict[str, str], str]]:
    """``GET Schedule`` and ``GET Slot?status=free&start=ge…`` on the EHR (a few pages at most).
    The pages also go into the inbox like a poll's, so the local store (and the wait list, which
    offers only stored slots) catches up with what the EHR said."""
    from apps.ehr.services.extract import instant

    out = []
    pages: list[dict[str, Any]] = []
    try:
        with client_for(referral.source) as client:
            schedules: dict[str, dict[str, str]] = {}
            for n, page in enumerate(client.search_pages("Schedule", {"_count": "100"})):
                pages.append(page)
                for entry in page.get("entry") or []:
                    resource = entry.get("resource") or {}
                    if resource.get("resourceType") == "Schedule" and resource.get("id"):
                        schedules[f"Schedule/{resource['id']}"] = _schedule_dict(resource)
                if n + 1 >= LIVE_PAGES:
                    break
            params = {"status": "free", "start": f"ge{now.strftime('%Y-%m-%dT%H:%M:%SZ')}", "_count": "100"}
            for n, page in enumerate(client.search_pages("Slot", params)):
                pages.append(page)
                for entry in page.get("entry") or []:
                    slot = entry.get("resource") or {}
                    if slot.get("resourceType") != "Slot" or slot.get("status") != "free":
                        continue
                    schedule_ref = ((slot.get("schedule") or {}).get("reference") or "").rsplit("/", 2)[-2:]
                    schedule = schedules.get("/".join(schedule_ref))
                    start = instant(slot.get("start"))
                    if schedule and start and now < start < now + HORIZON:
                        version = str((slot.get("meta") or {}).get("versionId") or "")
                        out.append((f"Slot/{slot['id']}", start, instant(slot.get("end")), schedule, version))
                if n + 1 >= LIVE_PAGES:
                    break
    except FhirClientError as exc:
        logger.info("booking: live slot search failed (%s); local slots only", exc.__class__.__name__)
    _store_pages(referral, pages)
    return out


def _store_pages(referral: Referral, pages: list[dict[str, Any]]) -> None:
    from apps.ehr.services.envelope import EnvelopeError
    from apps.ehr.services.inbox import inbox_receive

    for page in pages:
        if page.get("entry"):
            try:
                inbox_receive(source=referral.source, body=page, channel=InboxMessage.Channel.POLL,
                              reject_invalid_ids=False)  # fmt: skip
            except EnvelopeError as exc:
                logger.info("booking: a slot search page was not stored (%s)", exc.__class__.__name__)


def _slot_for(referral: Referral, slot_ref: str) -> FreeSlot:
    for slot in referral_free_slots(referral=referral, live=bool(referral.source.base_url) and not _stored(slot_ref)):
        if slot.ref == slot_ref:
            return slot
    raise ConflictError("That slot is no longer free: choose another one.", code="slot_taken")


def _stored(slot_ref: str) -> bool:
    return Slot.objects.filter(fhir_id=slot_ref.partition("/")[2]).exists()


# --- booking ----------------------------------------------------------------------------


def _appointment(referral: Referral, slot: FreeSlot) -> dict[str, Any]:
    participants = [{"actor": {"reference": referral.patient_ref}, "status": "accepted"}]
    for ref in (slot.practitioner_ref, slot.location_ref):
        if ref:
            participants.append({"actor": {"reference": ref}, "status": "accepted"})
    appointment: dict[str, Any] = {
        "status": "booked",
        # The first identifier is the conditional create's (apps.ehr outbox): the slot at its version.
        "identifier": [
            {"system": SLOT_HOLD_SYSTEM, "value": f"{slot.ref.partition('/')[2]}-v{slot.version or '0'}"},
            {"system": BOOKING_SYSTEM, "value": _booking_value(referral, slot.ref)},
        ],
        "basedOn": [{"reference": referral.service_request.reference}],
        "slot": [{"reference": slot.ref}],
        "start": slot.start.isoformat().replace("+00:00", "Z"),
        "participant": participants,
        "description": (referral.specialty_display or "Referral appointment")[:200],
    }
    if slot.end:
        appointment["end"] = slot.end.isoformat().replace("+00:00", "Z")
    return appointment


def _booking_value(referral: Referral, slot_ref: str) -> str:
    return f"referral-{referral.pk}-{slot_ref.replace('/', '-')}"


def referral_book(
    *, referral_id: int, by: User, slot_ref: str, channel: str = OutreachChannel.PHONE, note: str = ""
) -> Referral:
    """Book a free slot the patient agreed to (recorded as an outreach attempt that reached them):
    the referral is "booking" and the Appointment goes to the EHR through the outbox. A scheduled
    referral is rebooked the same way (its appointment stays until the new one is booked).

    The slot is looked up first, outside any transaction (it may need the EHR); the booking itself
    is one transaction that checks again that no one holds the slot."""
    referral = Referral.objects.select_related("source", "site").get(pk=referral_id)
    ensure_can(by, referral, "work")
    slot = _slot_for(referral, slot_ref)
    return _book(referral_id=referral_id, by=by, slot=slot, channel=channel, note=note)


@transaction.atomic
def _book(*, referral_id: int, by: User, slot: FreeSlot, channel: str, note: str) -> Referral:
    referral = item_lock(Referral.WORKFLOW, referral_id)
    ensure_can(by, referral, "work")
    if referral.state not in (State.SCHEDULING, *HAS_APPOINTMENT):
        raise ConflictError(
            f"This referral is {referral.get_state_display().lower()}: a slot can be booked only while scheduling "
            "or to rebook an appointment.",
            code="transition_not_allowed",
        )
    if not referral.patient_ref or referral.entered_by_hand:
        raise ApplicationError("This referral has no patient in the EHR to book for.", code="no_patient")
    if _busy_slot_refs(referral.source_id, [slot.ref]):
        raise ConflictError("That slot is no longer free: choose another one.", code="slot_taken")
    outreach_record(
        workflow=Referral.WORKFLOW, item_id=referral.pk, by=by, channel=channel, outcome=OutreachOutcome.REACHED,
        note=(note or f"Patient agreed to {_when(referral, slot.start)} with {slot.practitioner}")[:500],
    )  # fmt: skip
    referral.refresh_from_db()
    name = "rebook" if referral.state in HAS_APPOINTMENT else "book"
    transition_apply(
        referral, name, by=by, slot_ref=slot.ref,
        reason=f"Asked the EHR for {_when(referral, slot.start)} with {slot.practitioner} at {slot.location}",
    )  # fmt: skip
    outbox_enqueue(
        source=referral.source,
        resource_type="Appointment",
        resource_id="",
        operation=OutboxMessage.Operation.CREATE,
        changes=_appointment(referral, slot),
        dedupe_key=f"{BOOKING_KEY}{referral.pk}:{slot.ref}",
    )
    return referral


def _when(referral: Referral, moment: datetime) -> str:
    local = moment.astimezone(ZoneInfo(referral.site.timezone))
    return local.strftime("%-d %b %Y, %H:%M")  # the app's one date format (DATETIME_FORMAT)


def booking_outbox_result(message: OutboxMessage, body: dict[str, Any]) -> None:
    """The EHR answered a booking (outbox listener): its Appointment goes through the ingestion
    path (which schedules the referral); a refusal brings the referral back with the reason; the
    booking of a referral cancelled meanwhile is withdrawn. The answer to a cancellation or a
    withdrawal is ingested too, so the store frees the slot (and the wait list hears of it)."""
    key = message.dedupe_key or ""
    cancelling = next((k for k in (WITHDRAW_KEY, CANCEL_KEY) if key.startswith(k)), "")
    if cancelling and message.status == OutboxMessage.Status.SENT and body.get("id"):
        from apps.ehr.services.inbox import inbox_receive

        inbox_receive(source=message.source, body=body, channel=InboxMessage.Channel.POLL)
        return
    if not key.startswith(BOOKING_KEY):
        return
    referral_id = int(key[len(BOOKING_KEY) :].split(":", 1)[0])
    slot_ref = key.split(":", 2)[2]
    referral = Referral.objects.select_related("service_request", "source").filter(pk=referral_id).first()
    if referral is None:
        return
    if referral.state == State.CANCELLED:
        _withdraw_late(referral, message, body, slot_ref)
        return
    if message.status == OutboxMessage.Status.SENT:
        based_on = [b.get("reference", "") for b in body.get("basedOn") or [] if isinstance(b, dict)]
        ours = any(r.endswith(referral.service_request.reference) for r in based_on)
        if ours and body.get("status") not in NOT_BUSY and body.get("id"):
            from apps.ehr.services.inbox import inbox_receive

            inbox_receive(source=referral.source, body=body, channel=InboxMessage.Channel.POLL)
            return
        reason = "The slot is already taken in the EHR."
    elif message.response_status in (409, 412):
        reason = "The slot is already taken in the EHR."
    else:
        reason = f"The EHR refused the booking (HTTP {message.response_status or 'no answer'})."
    referral_booking_refused(referral_id=referral.pk, slot_ref=slot_ref, reason=reason)


@transaction.atomic
def referral_booking_refused(*, referral_id: int, slot_ref: str, reason: str) -> Referral | None:
    """The EHR did not book the slot: back to scheduling (or to the appointment a rebooking was
    replacing) with the reason and the next free slots on the timeline. Idempotent."""
    referral = item_lock(Referral.WORKFLOW, referral_id)
    if referral.state != State.BOOKING or referral.booking_slot_ref != slot_ref:
        return referral
    name = "rebooking_refused" if referral.replaces_appointment_ref else "booking_refused"
    # The refused slot is busy from now on for this search, whatever the store says.
    nexts = [s for s in referral_free_slots(referral=referral) if s.ref != slot_ref][:3]
    offer = "; ".join(f"{_when(referral, s.start)} with {s.practitioner}" for s in nexts)
    transition_apply(
        referral, name, source=TransitionSource.EHR,
        reason=f"{reason} Next free slots: {offer or 'none found'}.",
    )  # fmt: skip
    return referral


def _ours(referral: Referral, appointment: dict[str, Any], slot_ref: str) -> bool:
    """Whether an Appointment is this referral's booking of ``slot_ref`` (identifier and basedOn)."""
    wanted = {"system": BOOKING_SYSTEM, "value": _booking_value(referral, slot_ref)}
    identifiers = [{k: i.get(k) for k in ("system", "value")} for i in appointment.get("identifier") or []
                   if isinstance(i, dict)]  # fmt: skip
    based_on = [b.get("reference", "") for b in appointment.get("basedOn") or [] if isinstance(b, dict)]
    return wanted in identifiers and any(r.endswith(referral.service_request.reference) for r in based_on)


def booking_withdraw(*, referral: Referral, reason: str) -> None:
    """The referral was cancelled while booking (in the caller's transaction): withdraw the
    Appointment asked of the EHR now if the EHR has answered, else when it answers."""
    slot_ref = referral.booking_slot_ref
    message = OutboxMessage.objects.filter(dedupe_key=f"{BOOKING_KEY}{referral.pk}:{slot_ref}").first()
    if slot_ref and message is not None and message.status == OutboxMessage.Status.SENT and message.resource_id:
        _withdraw_enqueue(referral, slot_ref, message.resource_id, reason)


def _withdraw_late(referral: Referral, message: OutboxMessage, body: dict[str, Any], slot_ref: str) -> None:
    """The EHR answered the booking of a referral cancelled meanwhile: withdraw it if it is ours."""
    if referral.booking_slot_ref != slot_ref or message.status != OutboxMessage.Status.SENT or not body.get("id"):
        return
    if body.get("status") not in NOT_BUSY and _ours(referral, body, slot_ref):
        cancel = (
            Transition.objects.filter(workflow=Referral.WORKFLOW, item_id=referral.pk, transition="cancel")
            .order_by("-at", "-id")
            .first()
        )
        reason = f"Referral cancelled: {cancel.reason if cancel else ''}"
        with transaction.atomic():
            _withdraw_enqueue(referral, slot_ref, str(body["id"]), reason)


def _withdraw_enqueue(referral: Referral, slot_ref: str, appointment_id: str, reason: str) -> None:
    key = f"{WITHDRAW_KEY}{referral.pk}:{slot_ref}:{appointment_id}"[:200]
    if OutboxMessage.objects.filter(dedupe_key=key).exists():
        return  # withdrawn already (the cancel and the EHR's answer both ask)
    outbox_enqueue(
        source=referral.source, resource_type="Appointment", resource_id=appointment_id,
        changes={"status": "cancelled", "cancelationReason": {"text": reason[:200]}}, dedupe_key=key,
    )  # fmt: skip
    transition_record(
        referral, transition="booking_withdrawn", from_state=referral.state, source=TransitionSource.SYSTEM,
        reason="The referral was cancelled while the EHR was booking the slot: clinops asked the EHR to cancel "
        "that appointment.",
    )  # fmt: skip


def booking_withdraw_guard(message: OutboxMessage, current: dict[str, Any]) -> str:
    """Outbox guard: a withdrawal cancels only the Appointment this referral booked, as the EHR
    holds it now; anything else is refused (a dead letter with this reason)."""
    key = message.dedupe_key or ""
    if not key.startswith(WITHDRAW_KEY):
        return ""
    referral_id, slot_ref, _ = key[len(WITHDRAW_KEY) :].split(":", 2)
    referral = Referral.objects.select_related("service_request").filter(pk=int(referral_id)).first()
    if referral is None or not _ours(referral, current, slot_ref):
        return "this Appointment is not the one the cancelled referral booked; it is left as it is"
    return ""


def referral_booking_sweep() -> int:
    """Apply the EHR's answer to bookings whose listener did not run (a crash after the send)."""
    count = 0
    for referral in Referral.objects.filter(state=State.BOOKING).only("pk", "booking_slot_ref"):
        message = OutboxMessage.objects.filter(
            dedupe_key=f"{BOOKING_KEY}{referral.pk}:{referral.booking_slot_ref}", status=OutboxMessage.Status.DEAD
        ).first()
        if message is not None:
            booking_outbox_result(message, {})
            count += 1
    return count


# --- after booking ----------------------------------------------------------------------


@transaction.atomic
def referral_confirm(*, referral_id: int, by: User, channel: str = OutreachChannel.PHONE, note: str = "") -> Referral:
    """The patient said they will come (an outreach attempt that reached them): confirmed."""
    referral = item_lock(Referral.WORKFLOW, referral_id)
    ensure_can(by, referral, "work")
    if referral.state != State.SCHEDULED:
        raise ConflictError("Only a scheduled appointment can be confirmed.", code="transition_not_allowed")
    outreach_record(workflow=Referral.WORKFLOW, item_id=referral.pk, by=by, channel=channel,
                    outcome=OutreachOutcome.REACHED, note=note or "Patient confirmed the appointment")  # fmt: skip
    referral.refresh_from_db()
    transition_apply(referral, "confirm", by=by, reason=note or "The patient will come")
    return referral


@transaction.atomic
def referral_cancel_appointment(*, referral_id: int, by: User, reason: str) -> Referral:
    """Cancel the referral's appointment from clinops: the EHR hears it through the outbox and the
    referral goes back to scheduling (the slot is free again)."""
    if not reason.strip():
        raise ApplicationError("Say why the appointment is cancelled.", code="reason_required")
    referral = item_lock(Referral.WORKFLOW, referral_id)
    ensure_can(by, referral, "work")
    appointment_ref = referral.appointment_ref
    transition_apply(referral, "cancel_appointment", by=by, reason=reason.strip())
    appointment_cancel_in_ehr(referral=referral, appointment_ref=appointment_ref, reason=reason.strip())
    return referral


def appointment_cancel_in_ehr(*, referral: Referral, appointment_ref: str, reason: str) -> None:
    """Queue the Appointment's cancellation for the EHR (in the caller's transaction)."""
    if not appointment_ref.startswith("Appointment/"):
        return
    outbox_enqueue(
        source=referral.source,
        resource_type="Appointment",
        resource_id=appointment_ref.split("/", 1)[1],
        changes={"status": "cancelled", "cancelationReason": {"text": reason[:200]}},
        dedupe_key=f"{CANCEL_KEY}{referral.pk}:{appointment_ref}",
    )


def appointment_of(referral: Referral) -> dict[str, Any] | None:
    """The referral's appointment as the store has it: when, with whom, where (the item page)."""
    if not referral.appointment_ref.startswith("Appointment/"):
        return None
    row = Appointment.objects.filter(
        source_id=referral.source_id, fhir_id=referral.appointment_ref.split("/", 1)[1]
    ).first()
    if row is None:
        return None
    names = _names(referral.source_id, {row.practitioner_ref, row.location_ref})
    return {"start": row.start, "practitioner": names.get(row.practitioner_ref, ""),
            "location": names.get(row.location_ref, "")}  # fmt: skip


def slots_by_day(referral: Referral, slots: list[FreeSlot]) -> list[tuple[str, list[FreeSlot]]]:
    """Slots grouped by the site's local day, in order (the slot page)."""
    zone = ZoneInfo(referral.site.timezone)
    days: dict[str, list[FreeSlot]] = {}
    for slot in slots:
        days.setdefault(slot.start.astimezone(zone).strftime("%A %-d %b %Y"), []).append(slot)
    return list(days.items())
