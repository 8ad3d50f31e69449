"""HL7 v2 messages into the inbox: stored first, then acknowledged; converted to FHIR and
processed like FHIR input.

    hl7_receive  — read one message, store it with the FHIR it becomes, answer its ACK (a resend
                   of a stored message gets the stored ACK again)
    hl7_replay   — convert a stored message again (after a mapping or data fix), for the console

One transaction stores the raw bytes (an inbox envelope), the ``Hl7Message`` row with its ACK,
and the inbox messages of the resources it was converted to; the ACK is returned only after it
commits, so nothing acknowledged can be lost. Processing is queued after commit. Original mode
answers AA (converted), AE (stored, but its content could not be converted: what and where is
in ERR) or AR (not taken: not v2, unsupported type, version or character set); enhanced mode
(MSH-15/16 sent) answers the accept ACK, CA or CR (CE when it could not be stored), sent as
MSH-15 asks (AL always, NE never, ER on error, SU on success). The application ACK of enhanced
mode (AA/AE, as MSH-16 asks) is stored in the same transaction and sent back over an outbound
MLLP connection after commit (services.v2_app_ack).
"""

import hashlib
import json
import logging
import traceback
import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ..models import STORE_MODELS, EhrSource, Hl7Message, InboxEnvelope, InboxMessage
from ..v2.ack import AckProblem, ack_build
from ..v2.convert import Context, check_supported, convert
from ..v2.message import (
    DUPLICATE_KEY,
    INTERNAL,
    Header,
    V2Error,
    V2Message,
    check_header,
    decode,
    read_header,
    v2_datetime,
)
from .envelope import Entry
from .inbox import inbox_receive_entries
from .v2_app_ack import hl7_app_ack_enqueue

logger = logging.getLogger(__name__)
Status = Hl7Message.Status
CONTENT_TYPE = "application/hl7-v2"


@dataclass(frozen=True)
class V2Receipt:
    ack: str  # the ACK text (ER7); encode with ``codec`` to send
    ack_code: str  # what MSA-1 says
    codec: str
    send: bool  # False when MSH-15 asked for no accept ACK in this case
    duplicate: bool = False
    message_id: int | None = None
    inbox_ids: tuple[int, ...] = ()
    batch: tuple["V2Receipt", ...] = ()  # a batch's answer: the receipt of each of its messages

    @property
    def ack_bytes(self) -> bytes:
        return self.ack.encode(self.codec or "utf-8", errors="replace")

    @property
    def accepted(self) -> bool:
        return self.ack_code in ("AA", "AE", "CA")


def _dedupe_key(source_id: int, control_id: str) -> str:
    return hashlib.sha256(f"{source_id}|v2|{control_id}".encode()).hexdigest()


def _send(header: Header | None, commit_code: str) -> bool:
    """Enhanced mode: whether MSH-15 asks for this accept ACK."""
    condition = header.accept_ack if header else ""
    if condition == "NE":
        return False
    if condition == "ER":
        return commit_code != "CA"
    if condition == "SU":
        return commit_code == "CA"
    return True


def _answer(header: Header | None, app_code: str, problem: AckProblem | None) -> tuple[str, str, str, bool]:
    """(ack text, MSA-1 sent, application ack code, send?) for original or enhanced mode."""
    if header is not None and header.enhanced:
        commit = {"AA": "CA", "AE": "CA", "AR": "CR"}[app_code]
        # In enhanced mode an accepted message's content problems go in the application ACK.
        text = ack_build(header, commit, problem if commit != "CA" else None)
        return text, commit, app_code, _send(header, commit)
    return ack_build(header, app_code, problem), app_code, "", True


def hl7_receive(*, source: EhrSource, raw: bytes, channel: str, peer: str = "") -> V2Receipt:
    """Store one v2 message (or its rejection) and return the ACK to send after this returns.

    Raises DatabaseError when nothing could be stored (the caller sends nothing, or a CE/AR
    saying so, and the sender resends)."""
    header: Header | None = None
    codec = "utf-8"
    try:
        header = read_header(raw)
        check_header(header)
        text, codec = decode(raw, header)
        check_supported(header.message_code, header.event)
        message = V2Message(header, text, codec)
    except V2Error as exc:
        return _reject(source, raw, channel, peer, header, codec, exc)
    key = _dedupe_key(source.pk, header.control_id)
    sha = hashlib.sha256(raw).hexdigest()
    # No look-up first: the unique key finds a resend (rare) and the race of two connections.
    correlation_id = uuid.uuid4().hex
    try:
        with transaction.atomic():
            envelope = InboxEnvelope.objects.create(
                source=source, sha256=sha, content_type=CONTENT_TYPE, correlation_id=correlation_id, raw=raw
            )
            row = Hl7Message(
                source=source,
                envelope=envelope,
                dedupe_key=key,
                control_id=header.control_id,
                message_type=header.message_type[:16],
                version=header.version,
                sending_app=header.sending_app,
                sending_facility=header.sending_facility,
                sent_at=header.sent_at,
                charset=codec,
                channel=channel,
                peer=peer[:100],
                received_at=envelope.received_at,
            )
            inbox_ids = _convert_into(row, message, source)
            row.save()
            if header.enhanced:
                problem = AckProblem(row.error_code, row.error_location, row.error) if row.error else None
                hl7_app_ack_enqueue(message=row, header=header, app_code=row.app_ack_code, problem=problem)
    except IntegrityError:
        # A resend, or the same control id committed by another connection meanwhile: answer it
        # as the stored message was answered.
        if (found := _duplicate(key, sha, header, codec)) is not None:
            return found
        raise
    if inbox_ids:
        transaction.on_commit(partial(_queue, list(inbox_ids)))
    return V2Receipt(row.ack, row.ack_code, codec, row.ack_sent, message_id=row.pk, inbox_ids=tuple(inbox_ids))


def _convert_into(row: Hl7Message, message: V2Message, source: EhrSource) -> list[int]:
    """Convert ``message`` into inbox messages (in a savepoint) and set the row's status and ACK."""
    header = message.header
    problem = None
    inbox_ids: list[int] = []
    try:
        with transaction.atomic():
            resources = convert(message, context_for(source))
            inbox_ids = _store_resources(row, header, resources, source)
    except V2Error as exc:
        problem = AckProblem(exc.code, exc.location, exc.message)
    except Exception as exc:
        # A bug in a mapping must not cost the message: it is stored, answered AE and can be
        # converted again from the console once fixed. The log names no patient data.
        # Where it failed, without the exception's text (which may quote the message's data).
        where = "".join(traceback.format_tb(exc.__traceback__)[-3:])
        logger.error("hl7: converting a message of source %s failed: %s\n%s", source.pk, exc.__class__.__name__, where)
        problem = AckProblem(INTERNAL, "", f"The message could not be converted ({exc.__class__.__name__}).")
    app_code = "AE" if problem else "AA"
    row.ack, row.ack_code, row.app_ack_code, row.ack_sent = _answer(header, app_code, problem)
    row.status = Status.ERROR if problem else Status.CONVERTED
    row.error_code = problem.code if problem else ""
    row.error_location = problem.location[:40] if problem else ""
    row.error = problem.text if problem else ""
    row.converted_at = None if problem else timezone.now()
    return inbox_ids


def _store_resources(row: Hl7Message, header: Header, resources: list[dict], source: EhrSource) -> list[int]:
    event_time = _event_time(header, row)
    version = "v2-" + (header.control_id if len(header.control_id) <= 60 else row.dedupe_key[:60])
    entries = []
    for resource in resources:
        resource.setdefault("meta", {})["lastUpdated"] = event_time
        payload = json.dumps(resource, separators=(",", ":"), ensure_ascii=False)
        entries.append(Entry("upsert", resource["resourceType"], resource["id"], version[:64], event_time, payload))
    receipt = inbox_receive_entries(
        source=source,
        entries=entries,
        channel=InboxMessage.Channel.V2,
        correlation_id=row.envelope.correlation_id,
        envelope=row.envelope,
    )
    return receipt.new_ids


def _event_time(header: Header, row: Hl7Message) -> str:
    """MSH-7 as an instant (the EHR's event time orders versions in the store), else now.

    MSH-7 is often to the second, and an EHR sends several messages about one patient in one
    second: each later arrival with the same MSH-7 gets one more microsecond, so it is newer
    than the one before it rather than "not newer"."""
    found = v2_datetime(header.sent_at, default_tz=_tz())
    if len(found) < 19:
        return timezone.now().isoformat()
    rank = _arrival_rank(row)
    return (datetime.fromisoformat(found) + timedelta(microseconds=rank)).isoformat() if rank else found


def _arrival_rank(row: Hl7Message) -> int:
    """How many messages of the row's source with its MSH-7 arrived before it (in the open transaction).

    On PostgreSQL a transaction lock on (source, MSH-7) makes two connections storing messages
    of one second take turns, so they cannot both count the same; SQLite writes one at a time."""
    if connection.vendor == "postgresql":
        digest = hashlib.sha256(f"hl7-sent|{row.source_id}|{row.sent_at}".encode()).digest()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)])
    earlier = Hl7Message.objects.filter(source_id=row.source_id, sent_at=row.sent_at).exclude(status=Status.REJECTED)
    if row.pk:  # converted again: only the ones that arrived before it
        earlier = earlier.filter(pk__lt=row.pk)
    return earlier.count()


def _tz() -> Any:
    return zoneinfo.ZoneInfo(getattr(settings, "EHR_V2_TIME_ZONE", "") or settings.TIME_ZONE)


def context_for(source: EhrSource) -> Context:
    return Context(
        source_id=source.pk,
        tz=_tz(),
        systems=dict(source.v2_systems or {}),
        referral_codes=frozenset(getattr(settings, "EHR_V2_REFERRAL_CODES", ())),
        resolve=partial(resolve_id, source.pk),
    )


def resolve_id(source_id: int, resource_type: str, patient_ref: str, identifiers: list[dict[str, Any]]) -> str | None:
    """The stored resource (of this source) with one of ``identifiers``, so that v2 and FHIR
    input about one patient, visit or order land on one record. Patients are found by MRN (the
    indexed first identifier) and then the identifier's system; other types among the patient's."""
    model = STORE_MODELS.get(resource_type)
    if model is None or not identifiers:
        return None
    wanted = {(i.get("system", ""), i["value"]) for i in identifiers}
    if resource_type == "Patient":
        rows = model.objects.filter(source_id=source_id, mrn__in=[v for _, v in wanted], deleted=False)
    elif patient_ref and any(f.name == "patient_ref" for f in model._meta.fields):
        rows = model.objects.filter(source_id=source_id, patient_ref=patient_ref, deleted=False)
    else:
        return None
    found = []
    for fhir_id, version_id, raw in rows.values_list("fhir_id", "version_id", "raw")[:200]:
        stored = (raw or {}).get("identifier") or []
        if isinstance((raw or {}).get("masterIdentifier"), dict):
            stored = [*stored, raw["masterIdentifier"]]
        if any(isinstance(i, dict) and (i.get("system", ""), i.get("value")) in wanted for i in stored):
            found.append((version_id.startswith("v2-"), fhir_id))
    # The EHR's own FHIR record wins over one made from v2 before it arrived: from then on, v2
    # messages about the patient land on the EHR's record.
    return min(found)[1] if found else None


def _duplicate(key: str, sha: str, header: Header, codec: str) -> V2Receipt | None:
    """The stored answer to a resend; an AR when the control id was used for another message."""
    row = Hl7Message.objects.filter(dedupe_key=key).first()
    if row is None:
        return None
    if row.envelope.sha256 != sha:
        problem = AckProblem(
            DUPLICATE_KEY, "MSH^1^10", f"Control id {header.control_id} was already used for a different message."
        )
        text, code, _, send = _answer(header, "AR", problem)
        logger.warning("hl7: message %s reuses control id of message %s with other content", key[:12], row.pk)
        return V2Receipt(text, code, codec, send, duplicate=True, message_id=row.pk)
    Hl7Message.objects.filter(pk=row.pk).update(duplicates=row.duplicates + 1)
    return V2Receipt(row.ack, row.ack_code, row.charset or codec, row.ack_sent, duplicate=True, message_id=row.pk)


def _reject(
    source: EhrSource, raw: bytes, channel: str, peer: str, header: Header | None, codec: str, exc: V2Error
) -> V2Receipt:
    """AR: kept (under a key of its bytes, so a resend is answered the same) for the console."""
    problem = AckProblem(exc.code, exc.location, exc.message)
    text, code, app_code, send = _answer(header, "AR", problem)
    sha = hashlib.sha256(raw).hexdigest()
    key = hashlib.sha256(f"{source.pk}|v2-rejected|{sha}".encode()).hexdigest()
    existing = Hl7Message.objects.filter(dedupe_key=key).first()
    if existing is not None:
        Hl7Message.objects.filter(pk=existing.pk).update(duplicates=existing.duplicates + 1)
        return V2Receipt(existing.ack, existing.ack_code, codec, existing.ack_sent, True, existing.pk)
    try:
        with transaction.atomic():
            envelope = InboxEnvelope.objects.create(
                source=source, sha256=sha, content_type=CONTENT_TYPE, correlation_id=uuid.uuid4().hex, raw=raw
            )
            row = Hl7Message.objects.create(
                source=source,
                envelope=envelope,
                dedupe_key=key,
                control_id=header.control_id if header else "",
                message_type=header.message_type[:16] if header else "",
                version=header.version if header else "",
                sending_app=header.sending_app if header else "",
                sending_facility=header.sending_facility if header else "",
                sent_at=header.sent_at if header else "",
                charset=codec,
                channel=channel,
                peer=peer[:100],
                received_at=envelope.received_at,
                status=Status.REJECTED,
                ack=text,
                ack_code=code,
                app_ack_code=app_code,
                ack_sent=send,
                error_code=exc.code,
                error_location=exc.location[:40],
                error=exc.message,
            )
    except IntegrityError:
        return V2Receipt(text, code, codec, send, True)
    return V2Receipt(text, code, codec, send, message_id=row.pk)


def _queue(ids: list[int]) -> None:
    from ..tasks.inbox import inbox_process_task

    try:
        inbox_process_task.delay(ids)
    except Exception:
        logger.warning("hl7: could not queue %d message(s); the sweeper will pick them up", len(ids))


def hl7_replay(*, message_id: int) -> Hl7Message:
    """Convert a stored message again (after a mapping or data fix); its resources go to the inbox
    as new versions. The ACK already sent is kept: the sender heard it; the new result is shown."""
    with transaction.atomic():
        row = Hl7Message.objects.select_for_update().select_related("source", "envelope").get(pk=message_id)
        raw = bytes(row.envelope.raw)
        header = read_header(raw)
        text, codec = decode(raw, header)
        message = V2Message(header, text, codec)
        sent = (row.ack, row.ack_code, row.app_ack_code, row.ack_sent)
        inbox_ids = _convert_into(row, message, row.source)
        row.ack, row.ack_code, row.app_ack_code, row.ack_sent = sent
        row.save()
        if inbox_ids:
            transaction.on_commit(partial(_queue, list(inbox_ids)))
    return row
