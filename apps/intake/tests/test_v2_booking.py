"""Bookings sent as HL7 v2 (SIU) drive intake exactly as FHIR Appointments do: one intake per
appointment whichever way it came, moved by S13, cancelled by S15, a no-show by S26."""

from datetime import datetime

import pytest

from apps.ehr.models import Hl7Message, InboxMessage, Patient
from apps.ehr.services.v2_inbox import hl7_receive
from apps.intake.models import Intake
from apps.intake.workflow import State
from tests.plugins.intake_feed import appointment, feed, make_source, visit_at

pytestmark = pytest.mark.django_db
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.3.9999.1"
LOCAL_TYPES = "http://hosp.example.org/fhir/CodeSystem/appointment-type"


@pytest.fixture
def source(db):
    source = make_source()[0]
    source.v2_systems = {"HOSP": MRN_SYSTEM, "L": LOCAL_TYPES}
    source.save()
    return source


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def siu(
    event: str, control_id: str, start: datetime, *, status: str = "Booked", sent: str = "",
    reason: str = "ROUTINE^Routine visit^HL70276",
) -> bytes:  # fmt: skip
    when = start.strftime("%Y%m%d%H%M%S%z")
    sent = sent or datetime.now(start.tzinfo).strftime("%Y%m%d%H%M%S%z")
    segments = [
        f"MSH|^~\\&|EPIC|HOSP|CLINOPS|CLINOPS|{sent}||SIU^{event}^SIU_S12|{control_id}|P|2.5.1",
        f"SCH|PL555^EPIC|APT1001^EPIC|||||{reason}||30|MIN" + "|" * 15 + status,
        "PID|1||MRN1001^^^HOSP^MR||Rivera^Ana||19800214|F",
        f"AIS|1|A|NEWPT^New patient visit|{when}|||30|MIN",
        "AIL|1|A|NORTH^^^HOSP",
    ]
    return "\r".join(segments).encode() + b"\r"


def send(source, data, capture):
    with capture(execute=True):
        receipt = hl7_receive(source=source, raw=data, channel=Hl7Message.Channel.MLLP)
    assert receipt.ack_code == "AA", receipt.ack
    assert not InboxMessage.objects.exclude(status="processed").exists()


FHIR_PATIENT = {
    "resourceType": "Patient",
    "id": "pat-42",
    "meta": {"versionId": "1", "lastUpdated": "2025-01-01T00:00:00Z"},
    "identifier": [{"system": MRN_SYSTEM, "value": "MRN1001"}],
    "name": [{"family": "Rivera", "given": ["Ana"]}],
}


def test_a_v2_booking_and_a_fhir_booking_of_one_patient_make_one_intake(source, capture):
    start = visit_at(3, hour=9)
    feed(source, FHIR_PATIENT, appointment("APT1001", start=start, patient="pat-42"), capture=capture)
    send(source, siu("S12", "SIU1", start), capture)
    intake = Intake.objects.get()
    assert (intake.patient_ref, intake.state, intake.visit_start) == ("Patient/pat-42", State.PENDING, start)
    assert list(Patient.objects.values_list("fhir_id", flat=True)) == ["pat-42"]


def test_the_v2_booking_first_then_the_fhir_one_still_make_one_intake(source, capture):
    start = visit_at(3, hour=9)
    feed(source, FHIR_PATIENT, capture=capture)
    send(source, siu("S12", "SIU1", start), capture)
    feed(source, appointment("APT1001", start=start, patient="pat-42"), capture=capture)
    assert Intake.objects.count() == 1


def test_a_v2_reschedule_moves_the_intake_and_a_cancellation_cancels_it(source, capture):
    start, later = visit_at(3, hour=9), visit_at(5, hour=14)
    send(source, siu("S12", "SIU1", start, sent="20250101090000+0000"), capture)
    intake = Intake.objects.get()
    assert intake.patient_ref == "Patient/HOSP-MRN1001"  # no FHIR record of the patient: the v2 identity
    send(source, siu("S13", "SIU2", later, sent="20250102090000+0000"), capture)
    intake.refresh_from_db()
    assert intake.visit_start == later and intake.reschedule_count == 1
    send(source, siu("S15", "SIU3", later, status="Cancelled", sent="20250103090000+0000"), capture)
    intake.refresh_from_db()
    assert intake.state == State.CANCELLED and Intake.objects.count() == 1


def test_a_v2_no_show_marks_the_intake(source, capture):
    start = visit_at(1, hour=9)
    send(source, siu("S12", "SIU1", start, sent="20250101090000+0000"), capture)
    send(source, siu("S26", "SIU2", start, status="Noshow", sent="20250102090000+0000"), capture)
    assert Intake.objects.get().state == State.NO_SHOW


def test_a_local_appointment_type_goes_through_the_governed_map(source, capture):
    from apps.intake.services import APPOINTMENT_TYPE_SYSTEM
    from apps.terminology.models import UnmappedCode
    from tests.plugins.terminology import concept_map_active

    concept_map_active(
        "hosp-appointment-types", source_url=LOCAL_TYPES, target_url=APPOINTMENT_TYPE_SYSTEM,
        rows=[("NP", "CHECKUP")],
    )  # fmt: skip
    send(source, siu("S12", "SIU1", visit_at(3), reason="NP^New patient^L"), capture)
    intake = Intake.objects.get()
    assert (intake.appointment_type, intake.exception_reason) == ("CHECKUP", "")
    send(source, siu("S14", "SIU2", visit_at(3), reason="ZZ^Odd visit^L", sent="20991231000000+0000"), capture)
    intake.refresh_from_db()
    assert "ZZ is not mapped" in intake.exception_reason
    assert UnmappedCode.objects.filter(system=LOCAL_TYPES, code="ZZ").exists()


def test_a_patient_made_from_v2_is_merged_into_the_fhir_record_when_it_arrives(source, capture):
    from apps.ehr.models import Appointment

    start, later = visit_at(3, hour=9), visit_at(4, hour=10)
    send(source, siu("S12", "SIU1", start, sent="20250101090000+0000"), capture)
    assert Intake.objects.get().patient_ref == "Patient/HOSP-MRN1001"  # the v2-made record, for now
    feed(source, FHIR_PATIENT, capture=capture)  # the EHR's record, with PID-3's system and value
    intake = Intake.objects.get()
    assert (intake.patient_ref, intake.state) == ("Patient/pat-42", State.PENDING)
    booked = Appointment.objects.get(fhir_id="APT1001")
    assert booked.patient_ref == "Patient/pat-42"
    assert {"actor": {"reference": "Patient/pat-42"}}.items() <= booked.raw["participant"][0].items()
    retired = Patient.objects.get(fhir_id="HOSP-MRN1001")
    assert retired.active is False
    assert retired.raw["link"] == [{"other": {"reference": "Patient/pat-42"}, "type": "replaced-by"}]
    # From then on, v2 about the visit lands on the merged records: one intake, moved.
    send(source, siu("S13", "SIU2", later, sent="20250102090000+0000"), capture)
    intake.refresh_from_db()
    assert (intake.patient_ref, intake.visit_start, Intake.objects.count()) == ("Patient/pat-42", later, 1)


def test_a_fhir_patient_with_another_identifier_system_is_not_merged(source, capture):
    send(source, siu("S12", "SIU1", visit_at(3, hour=9), sent="20250101090000+0000"), capture)
    other = {**FHIR_PATIENT, "identifier": [{"system": "urn:oid:9.9.9", "value": "MRN1001"}]}
    feed(source, other, capture=capture)
    assert Intake.objects.get().patient_ref == "Patient/HOSP-MRN1001"
    assert Patient.objects.get(fhir_id="HOSP-MRN1001").active is not False
