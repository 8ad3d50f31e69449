"""ADT → Patient and Encounter (v2-to-FHIR message maps ADT_A01, ADT_A03, ADT_A05, ADT_A09/A11,
ADT_A39/A40).

A01 admit, A04 register: the encounter is in progress; A03 discharge: finished; A11 cancel
admit: cancelled; A13 cancel discharge: in progress again; A08 update: the status the visit's
PV1 says (a discharge time means finished). A28/A31 (add/update person) carry no visit. A40
merges MRG-1's patient into PID's: the old record is made inactive and ``replaced-by`` the
surviving one, which ``replaces`` it, as FHIR's Patient.link says a merge should.
"""

from ..message import V2Error, V2Message
from .datatypes import Context, Resource, identifier
from .patient import encounter, patient, patient_id

EVENTS = ("A01", "A03", "A04", "A08", "A11", "A13", "A28", "A31", "A40")
ENCOUNTER_STATUS = {"A01": "in-progress", "A04": "in-progress", "A03": "finished", "A11": "cancelled",
                    "A13": "in-progress"}  # fmt: skip


def convert(message: V2Message, ctx: Context) -> list[Resource]:
    event = message.header.event
    if event == "A40":
        return _merge(message, ctx)
    person = patient(message, ctx)
    out = [person]
    if event in ("A28", "A31"):
        return out
    status = ENCOUNTER_STATUS.get(event, "")
    if not status:  # A08: what the visit says
        pv1 = message.first("PV1")
        status = "finished" if pv1 is not None and pv1.get(45) else "in-progress"
    if visit := encounter(message, ctx, person, status=status):
        out.append(visit)
    return out


def _merge(message: V2Message, ctx: Context) -> list[Resource]:
    survivor = patient(message, ctx)
    mrg = message.first("MRG")
    if mrg is None:
        raise V2Error("A40 needs an MRG segment naming the merged patient.", code="100", ack="AE", location="MRG")
    old_ids = [i for i in (identifier(r, ctx) for r in mrg.reps(1)) if i]
    if not old_ids:
        raise V2Error("MRG-1, the prior patient identifier, is empty.", code="101", ack="AE", location="MRG^1^1")
    old_id = patient_id(old_ids, ctx)
    if old_id == survivor["id"]:
        raise V2Error("MRG-1 names the same patient as PID-3.", code="205", ack="AE", location="MRG^1^1")
    survivor["link"] = [{"other": {"reference": f"Patient/{old_id}"}, "type": "replaces"}]
    merged: Resource = {
        "resourceType": "Patient",
        "id": old_id,
        "identifier": old_ids,
        "active": False,
        "link": [{"other": {"reference": f"Patient/{survivor['id']}"}, "type": "replaced-by"}],
    }
    if "name" in survivor:
        merged["name"] = survivor["name"]
    return [survivor, merged]
