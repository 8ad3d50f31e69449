"""SIU S12–S26 → Appointment (v2-to-FHIR: SCH[Appointment], AIS/AIG/AIL/AIP[Appointment.participant]).

The event says what happened to the booking: S12 booked, S13 rescheduled, S14 modified,
S15 cancelled, S17 deleted (entered in error), S26 no-show. SCH-7 (appointment reason, table
0276: ROUTINE, WALKIN, CHECKUP, FOLLOWUP, EMERGENCY) is FHIR R4's Appointment.appointmentType,
whose binding is that same table; codes of other systems go through the terminology maps in
the intake handler as FHIR codes do.
"""

from datetime import datetime, timedelta

from ..message import SUB, V2Error, V2Message, v2_datetime
from .datatypes import V2, Context, Resource, codeable, entity_identifier, fhir_id, loc, practitioner_ref, when
from .patient import patient, patient_ref

STATUS = {
    "S12": "booked",
    "S13": "booked",
    "S14": "booked",
    "S15": "cancelled",
    "S17": "entered-in-error",
    "S26": "noshow",
}
EVENTS = tuple(STATUS)
FILLER_STATUS = {"BOOKED": "booked", "PENDING": "pending", "WAITLIST": "waitlist", "CANCELLED": "cancelled",
                 "NOSHOW": "noshow", "COMPLETE": "fulfilled", "DELETED": "entered-in-error"}  # fmt: skip


def convert(message: V2Message, ctx: Context) -> list[Resource]:
    sch = message.first("SCH")
    if sch is None:
        raise V2Error("The SCH segment is missing.", code="100", ack="AE", location="SCH")
    person = patient(message, ctx)
    subject = patient_ref(person)
    ids = [
        i for i in (entity_identifier(sch.components(n), ctx, type_code=t) for n, t in ((2, "FILL"), (1, "PLAC"))) if i
    ]
    if not ids:
        raise V2Error("SCH-1 or SCH-2, the appointment id, is required.", code="101", ack="AE", location=loc(sch, 2))
    appointment_id = ctx.resolve("Appointment", subject["reference"], ids) or fhir_id(ids[0]["value"])
    status = STATUS[message.header.event]
    if message.header.event in ("S12", "S13", "S14") and (filler := sch.get(25).upper()) in FILLER_STATUS:
        status = FILLER_STATUS[filler]
    out: Resource = {"resourceType": "Appointment", "id": appointment_id, "identifier": ids, "status": status}
    reason = sch.components(7)
    if reason and reason[0]:
        concept = codeable(reason, ctx, default_system=V2 + "0276")
        if concept and len(reason) > 2 and reason[2].upper() in ("", "HL70276"):
            concept["coding"][0]["system"] = V2 + "0276"
        out["appointmentType"] = concept
    if status in ("cancelled", "noshow", "entered-in-error") and (why := codeable(sch.components(6), ctx)):
        out["cancelationReason"] = why
    # Start from the first resource segment that has one (AIS, then AIL/AIP/AIG), else SCH-11.
    start = end = ""
    minutes = 0
    for segment in message.all("AIS") + message.all("AIL") + message.all("AIP") + message.all("AIG"):
        number = 4 if segment.name == "AIS" else 6
        if start := when(segment, number, ctx):
            duration = segment.get(number + 3 if segment.name != "AIS" else 7)
            minutes = int(duration) if duration.isdigit() else 0
            break
    if not start and (tq := sch.components(11)):
        start = _tq_time(tq, 4, ctx)
        end = _tq_time(tq, 5, ctx)
    if start:
        out["start"] = start
        if not end and minutes:
            end = (datetime.fromisoformat(start) + timedelta(minutes=minutes)).isoformat()
            out["minutesDuration"] = minutes
        if end:
            out["end"] = end
    elif status in ("booked", "arrived", "fulfilled", "noshow"):
        raise V2Error("The appointment has no start time (AIS-4 or SCH-11).", code="101", ack="AE", location="AIS^1^4")
    participants = [{"actor": subject, "status": "accepted"}]
    for segment in message.all("AIL"):
        place = segment.components(3)
        if place and any(place[:4]):
            facility = place[3].split(SUB)[0].strip() if len(place) > 3 else ""
            participants.append(
                {"actor": {"reference": f"Location/{fhir_id(facility, place[0].strip())}"}, "status": "accepted"}
            )
    for segment in message.all("AIP"):
        for rep in segment.reps(3):
            if actor := practitioner_ref(rep):
                participants.append({"actor": actor, "status": "accepted"})
    out["participant"] = participants
    # SCH-26 (placer order number): the order this booking fulfils, e.g. a referral.
    if placer_order := entity_identifier(sch.components(26), ctx, type_code="PLAC"):
        order_id = ctx.resolve("ServiceRequest", subject["reference"], [placer_order]) or fhir_id(placer_order["value"])
        out["basedOn"] = [{"reference": f"ServiceRequest/{order_id}"}]
    return [person, out]


def _tq_time(tq: list[str], index: int, ctx: Context) -> str:
    return v2_datetime(tq[index], default_tz=ctx.tz) if len(tq) > index and tq[index] else ""
