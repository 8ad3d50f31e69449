"""Appointment reminders to patients (a beat task), by email and text message.

    patient_reminders_plan   — for every upcoming visit whose reminder offset has come
                               (``PATIENT_REMINDER_OFFSETS_HOURS``, e.g. 72 and 24 hours before),
                               one message per channel, written once (a unique key) and queued
                               after commit; an opted-out patient or a missing address is recorded
                               instead, on the item's timeline
    patient_message_send     — claim one message, send it outside any transaction, record the result
                               (sent, retried with backoff, or failed for good: on the timeline)
    patient_message_relay    — queue every message whose (next) attempt is due

Only the smallest offset that has come is planned: a visit booked two days ahead gets the 24-hour
reminder, not a late 72-hour one. A message holds the clinic's name and number, the date and time
and the links (confirm, cancel, the pre-visit form when the checklist waits for it, stop); the
address is looked up when it is sent. Logs and task arguments carry ids only.
"""

import logging
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apps.core.models import User
from apps.workflow.models import TransitionSource
from apps.workflow.registry import workflow_model
from apps.workflow.transitions import transition_record

from .clinic import Clinic, clinic_of, patient_address, when
from .delivery import DEAD, SENT, delivery_claim, delivery_due, delivery_record, delivery_retry
from .links import patient_link_make
from .models import PatientChannel, PatientLink, PatientMessage, PatientOptOut
from .sms import SmsError, sms_backend
from .visits import Visit, visit_providers

logger = logging.getLogger(__name__)
Status = PatientMessage.Status
Purpose = PatientLink.Purpose
CHANNEL_WORDS: dict[str, str] = {PatientChannel.EMAIL: "by email", PatientChannel.SMS: "by text message"}
STOP_LINK_DAYS = 90
WHY_NOT_SENT: dict[str, str] = {
    Status.OPTED_OUT: "the patient opted out",
    Status.NO_ADDRESS: "no address for it in the EHR",
}


def reminder_offsets() -> list[int]:
    """The configured offsets in hours, largest first."""
    return sorted({int(h) for h in settings.PATIENT_REMINDER_OFFSETS_HOURS if int(h) > 0}, reverse=True)


def patient_reminders_plan(*, now: datetime | None = None) -> int:
    """Plan the reminders that are due now (idempotent: a message per visit, offset and channel
    is written once, whoever runs the sweep and however often). Returns how many were queued."""
    now = now or timezone.now()
    offsets = reminder_offsets()
    if not offsets:
        return 0
    queued = 0
    for workflow, visits in _one_per_appointment(now, now + timedelta(hours=offsets[0])).items():
        planned = set(
            PatientMessage.objects.filter(workflow=workflow, item_id__in=[v.item_id for v in visits]).values_list(
                "item_id", "visit_start", "offset_hours", "channel"
            )
        )
        for visit in visits:
            due = [h for h in offsets if visit.start - timedelta(hours=h) <= now]
            if not due:
                continue
            for channel in PatientChannel.values:
                if (visit.item_id, visit.start, due[-1], channel) not in planned:
                    queued += _plan(visit, due[-1], channel, now)
    return queued


def _one_per_appointment(after: datetime, until: datetime) -> dict[str, list[Visit]]:
    """The upcoming visits by workflow, one per EHR appointment: a referral's appointment that also
    has an intake is reminded of once, by the intake's item (whose reminder carries the form)."""
    providers = sorted(visit_providers(), key=lambda p: p.questionnaire_done is None)
    taken: set[tuple[int, str]] = set()
    out: dict[str, list[Visit]] = {}
    for provider in providers:
        for visit in provider.upcoming(after, until):
            key = (visit.source_id, visit.appointment_ref)
            if visit.appointment_ref and key in taken:
                continue
            taken.add(key)
            out.setdefault(provider.workflow, []).append(visit)
    return out


def _opted_out(visit: Visit, channel: str) -> bool:
    rows = PatientOptOut.objects.filter(source_id=visit.source_id, patient_ref=visit.patient_ref, channel=channel)
    return rows.exists()


def _plan(visit: Visit, offset: int, channel: str, now: datetime) -> int:
    with transaction.atomic():
        status = Status.PENDING
        if _opted_out(visit, channel):
            status = Status.OPTED_OUT
        elif not patient_address(visit.source_id, visit.patient_ref, channel):
            status = Status.NO_ADDRESS
        clinic = clinic_of(visit.site_id)
        subject, body = ("", "") if status != Status.PENDING else _text(visit, clinic, channel, now)
        try:
            with transaction.atomic():  # a savepoint: a twin sweep that planned it first is not an error
                message = PatientMessage.objects.create(
                    workflow=visit.workflow, item_id=visit.item_id, source_id=visit.source_id,
                    patient_ref=visit.patient_ref, offset_hours=offset, visit_start=visit.start, channel=channel,
                    subject=subject, body=body, status=status, created_at=now,
                )  # fmt: skip
        except IntegrityError:
            return 0
        if status == Status.PENDING:
            transaction.on_commit(partial(_queue_send, message.pk))
            return 1
        _timeline(message, f"Reminder {CHANNEL_WORDS[channel]} not sent: {WHY_NOT_SENT[message.status]}.")
        return 0


def _absolute(path: str) -> str:
    return settings.CLINOPS_BASE_URL.rstrip("/") + path


def _link(visit: Visit, purpose: str, valid_for: timedelta) -> str:
    token = patient_link_make(purpose=purpose, workflow=visit.workflow, item_id=visit.item_id, valid_for=valid_for)
    return _absolute(reverse(f"patient:{purpose}", args=[token]))


def _text(visit: Visit, clinic: Clinic, channel: str, now: datetime) -> tuple[str, str]:
    """Subject and body: the clinic, the date and time, the links; nothing clinical, no name."""
    until_visit = visit.start - now
    at = when(clinic, visit.start)
    stop = Purpose.STOP_EMAIL if channel == PatientChannel.EMAIL else Purpose.STOP_SMS
    lines = [
        f"{clinic.name}: a reminder of your visit on {at}.",
        "",
        f"Confirm you will come: {_link(visit, Purpose.CONFIRM, until_visit)}",
        f"Cancel the visit: {_link(visit, Purpose.CANCEL, until_visit)}",
    ]
    if visit.questionnaire_open:
        lines.append(f"Fill the pre-visit form: {_link(visit, Purpose.QUESTIONNAIRE, until_visit)}")
    lines += ["", f"Questions or another time: call {clinic.phone}." if clinic.phone else ""]
    noun = "emails" if channel == PatientChannel.EMAIL else "texts"
    lines.append(f"No more reminder {noun}: {_link(visit, stop, timedelta(days=STOP_LINK_DAYS))}")
    return f"{clinic.name}: your visit on {at}"[:200], "\n".join(line for line in lines if line is not None) + "\n"


def _queue_send(message_id: int) -> None:
    from .tasks import patient_message_send_task

    try:
        patient_message_send_task.delay(message_id)
    except Exception:
        # The broker is down: the row is committed as pending; the relay sends it.
        logger.warning("notifications: could not queue patient message %s; the relay will pick it up", message_id)


def patient_message_relay(*, now: datetime | None = None) -> int:
    """Queue every patient message whose (next) attempt is due."""
    due = delivery_due(PatientMessage, now=now)
    for message_id in due:
        _queue_send(message_id)
    return len(due)


def patient_message_send(*, message_id: int) -> str:
    """Send one message if it is due, nobody else is sending it and the patient has not opted out
    since it was planned; returns its status after. Never twice: a sent message is never claimed
    again and a claim leases the row."""
    message = delivery_claim(PatientMessage, message_id)
    if message is None:
        return PatientMessage.objects.filter(pk=message_id).values_list("status", flat=True).first() or "missing"
    claimed = message.attempts
    address = patient_address(message.source_id, message.patient_ref, message.channel)
    opted_out = PatientOptOut.objects.filter(
        source_id=message.source_id, patient_ref=message.patient_ref, channel=message.channel
    ).exists()
    if opted_out or not address:
        return _not_sent(message_id, claimed, Status.OPTED_OUT if opted_out else Status.NO_ADDRESS)
    error, permanent, provider_id = "", False, ""
    try:
        if message.channel == PatientChannel.EMAIL:
            email = EmailMessage(
                subject=message.subject, body=message.body, to=[address],
                headers={"Message-ID": f"<patient-message-{message.pk}@{settings.CLINOPS_EMAIL_DOMAIN}>",
                         "Auto-Submitted": "auto-generated"},
            )  # fmt: skip
            with get_connection(fail_silently=False) as connection:
                connection.send_messages([email])
        else:
            provider_id = sms_backend().send(to=address, body=message.body)[:100]
    except SmsError as exc:
        error, permanent = str(exc)[:300], not exc.transient
    except Exception as exc:  # SMTP, socket, TLS: retried, then kept (the type and code: its text may hold the address)
        code = getattr(exc, "smtp_code", None)
        error = f"the email could not be sent ({type(exc).__name__}{f', code {code}' if code else ''})"
    if error:
        logger.warning("notifications: patient message %s attempt %s failed", message_id, claimed)
    with transaction.atomic():
        row, changed = delivery_record(
            PatientMessage, message_id, claimed, error=error, permanent=permanent, provider_id=provider_id
        )
        if changed and row.status == SENT:
            _timeline(row, f"Reminder sent {CHANNEL_WORDS[row.channel]} ({row.offset_hours} hours before the visit).")
        elif changed and row.status == DEAD:
            _timeline(row, f"Reminder {CHANNEL_WORDS[row.channel]} failed: {row.last_error[:120]}. "
                           "Call the patient if the visit needs confirming.")  # fmt: skip
    return row.status


@transaction.atomic
def _not_sent(message_id: int, claimed: int, status: str) -> str:
    message = PatientMessage.objects.select_for_update().get(pk=message_id)
    if message.attempts != claimed or message.status not in (Status.PENDING, Status.FAILED):
        return message.status
    message.status, message.next_attempt_at = status, None
    message.save(update_fields=["status", "next_attempt_at"])
    _timeline(message, f"Reminder {CHANNEL_WORDS[message.channel]} not sent: {WHY_NOT_SENT[message.status]}.")
    return message.status


def _timeline(message: PatientMessage, reason: str) -> None:
    """The message on its item's timeline, in plain words (in the caller's transaction)."""
    item = workflow_model(message.workflow).objects.filter(pk=message.item_id).first()
    if item is None:
        return
    names: dict[str, str] = {Status.SENT: "reminder_sent", Status.DEAD: "reminder_failed"}
    name = names.get(message.status, "reminder_not_sent")
    transition_record(item, transition=name, from_state=item.state, source=TransitionSource.REMINDER, reason=reason)


def patient_message_retry(*, message_ids: list[int], by: User) -> int:
    """Put failed reminders back in line now (integration admins); sent ones stay sent."""
    return delivery_retry(PatientMessage, message_ids, by=by, queue=_queue_send)
