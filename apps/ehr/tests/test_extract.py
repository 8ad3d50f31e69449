"""Searchable fields taken from resources (no database)."""

from datetime import UTC, date, datetime

from apps.ehr.services.extract import EXTRACTORS, instant, ref


def test_references_are_normalised_to_type_and_id():
    assert ref({"reference": "https://ehr.example.org/fhir/Patient/123/_history/4"}) == "Patient/123"
    assert ref({"reference": "Patient/123"}) == "Patient/123"
    assert ref({"reference": "#contained-1"}) == "#contained-1"
    assert ref({"display": "no reference"}) == ""


def test_partial_dates_become_midnight_utc():
    assert instant("2024-03") == datetime(2024, 3, 1, tzinfo=UTC)
    assert instant("2024-03-05T10:00:00+02:00") == datetime(2024, 3, 5, 8, 0, tzinfo=UTC)
    assert instant("garbage") is None


def test_observation_fields():
    fields = EXTRACTORS["Observation"](
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3", "display": "Potassium"}]},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2025-01-02T08:00:00Z",
            "valueQuantity": {"value": 6.2, "unit": "mmol/L"},
            "interpretation": [
                {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "HH"}
                    ]
                }
            ],
            "referenceRange": [{"low": {"value": 3.5}, "high": {"value": 5.1}}],
        }
    )
    assert fields["code"] == "http://loinc.org|2823-3" and fields["code_display"] == "Potassium"
    assert (fields["value_number"], fields["value_unit"]) == (6.2, "mmol/L")
    assert fields["interpretation"].endswith("|HH")
    assert (fields["reference_low"], fields["reference_high"]) == (3.5, 5.1)


def test_appointment_finds_patient_among_participants():
    fields = EXTRACTORS["Appointment"](
        {
            "resourceType": "Appointment",
            "status": "booked",
            "start": "2025-05-01T09:00:00Z",
            "participant": [
                {"actor": {"reference": "Practitioner/dr1"}, "status": "accepted"},
                {"actor": {"reference": "Patient/p1"}, "status": "accepted"},
            ],
            "basedOn": [{"reference": "ServiceRequest/sr1"}],
        }
    )
    assert (fields["patient_ref"], fields["practitioner_ref"], fields["based_on_ref"]) == (
        "Patient/p1",
        "Practitioner/dr1",
        "ServiceRequest/sr1",
    )


def test_patient_fields():
    fields = EXTRACTORS["Patient"](
        {
            "resourceType": "Patient",
            "name": [{"family": "Chalmers", "given": ["Peter", "James"]}],
            "birthDate": "1974-12-25",
            "identifier": [{"value": "12345"}],
            "gender": "male",
        }
    )
    assert fields["family"] == "Chalmers" and fields["given"] == "Peter James"
    assert fields["birth_date"] == date(1974, 12, 25) and fields["mrn"] == "12345"
