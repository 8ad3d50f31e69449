"""v2 → FHIR R4 on the corpus: each message becomes exactly the FHIR written beside it, and that
FHIR is valid R4 (the pipeline would dead-letter it otherwise). No database."""

import zoneinfo

import pytest
from fhir.resources.R4B import get_fhir_model_class

from apps.ehr.v2.convert import Context, convert
from apps.ehr.v2.message import V2Error, parse, v2_datetime

from .v2_corpus import MALFORMED, MESSAGES, SYSTEMS, TIME_ZONE, expected, malformed, raw


def ctx() -> Context:
    return Context(
        source_id=1,
        tz=zoneinfo.ZoneInfo(TIME_ZONE),
        systems=SYSTEMS,
        referral_codes=frozenset({"REF-CARD"}),
    )


@pytest.mark.parametrize("name", MESSAGES)
def test_each_corpus_message_becomes_its_expected_fhir(name):
    message, _ = parse(raw(name))
    resources = convert(message, ctx())
    assert resources == expected(name)
    for resource in resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def by_id(name):
    message, _ = parse(raw(name))
    return {f"{r['resourceType']}/{r['id']}": r for r in convert(message, ctx())}


def test_a_lab_result_keeps_its_ranges_flags_and_notes():
    found = by_id("oru_r01")
    potassium = found["Observation/F5001-1"]
    assert potassium["valueQuantity"]["value"] == 6.2
    assert potassium["referenceRange"][0]["low"]["value"] == 3.5
    assert potassium["referenceRange"][0]["high"]["value"] == 5.1
    assert potassium["interpretation"][0]["coding"][0]["code"] == "HH"
    assert potassium["note"] == [{"text": "Critical value called to Dr. Nguyen at 15:55"}]
    egfr = found["Observation/F5001-3"]
    assert egfr["valueQuantity"]["comparator"] == ">"
    assert egfr["referenceRange"][0] == {"low": egfr["referenceRange"][0]["low"], "text": ">60"}
    report = found["DiagnosticReport/F5001"]
    assert report["status"] == "final"
    assert [r["reference"] for r in report["result"]] == [f"Observation/F5001-{n}" for n in range(1, 7)]


def test_the_appointment_events_give_the_statuses_intake_acts_on():
    statuses = {name: by_id(name) for name in ("siu_s12", "siu_s13", "siu_s14", "siu_s15", "siu_s17", "siu_s26")}
    assert statuses["siu_s12"]["Appointment/APT1001"]["status"] == "booked"
    assert statuses["siu_s13"]["Appointment/APT1001"]["start"] == "2025-03-21T10:00:00-05:00"  # moved
    assert statuses["siu_s14"]["Appointment/APT1001"]["appointmentType"]["coding"][0]["code"] == "FOLLOWUP"
    assert statuses["siu_s15"]["Appointment/APT1001"]["status"] == "cancelled"
    assert statuses["siu_s17"]["Appointment/APT1002"]["status"] == "entered-in-error"
    assert statuses["siu_s26"]["Appointment/APT1003"]["status"] == "noshow"


def test_a_merge_links_the_two_patients_both_ways():
    found = by_id("adt_a40")
    assert found["Patient/HOSP-MRN1001"]["link"] == [
        {"other": {"reference": "Patient/HOSP-MRN1999"}, "type": "replaces"}
    ]
    old = found["Patient/HOSP-MRN1999"]
    assert old["active"] is False
    assert old["link"] == [{"other": {"reference": "Patient/HOSP-MRN1001"}, "type": "replaced-by"}]


def test_a_referral_order_is_marked_a_referral_and_a_lab_order_is_not():
    referral = by_id("orm_o01")["ServiceRequest/ORD7001"]
    assert referral["category"][0]["coding"][0]["code"] == "3457005"
    labs = by_id("oml_o21")
    assert "category" not in labs["ServiceRequest/LAB9001"]
    assert labs["ServiceRequest/LAB9001"]["priority"] == "stat"
    assert labs["ServiceRequest/LAB9002"]["status"] == "revoked"  # ORC-1 CA


def test_character_sets_escapes_and_z_segments():
    latin1, codec = parse(raw("adt_a31"))
    assert codec == "iso8859-1"
    patient = convert(latin1, ctx())[0]
    assert patient["name"][0]["family"] == "Müller"
    assert patient["address"][0]["line"] == ["Bahnhofstraße 9"]
    utf8, codec = parse(raw("adt_a28"))
    assert codec == "utf-8" and convert(utf8, ctx())[0]["address"][0]["line"] == ["Königstraße 5"]
    a01, _ = parse(raw("adt_a01"))
    assert a01.first("ZPD") is not None  # kept in the message, not converted
    assert convert(a01, ctx())[0]["address"][0]["line"] == ["12 Elm St&Apt 3"]  # \T\ is a literal &


def test_segments_ended_by_lf_or_crlf_read_the_same():
    cr = raw("adt_a01")
    for ending in (b"\n", b"\r\n"):
        message, _ = parse(cr.replace(b"\r", ending))
        assert convert(message, ctx()) == expected("adt_a01")


@pytest.mark.parametrize(("name", "answer"), MALFORMED.items())
def test_malformed_messages_say_what_is_wrong_and_where(name, answer):
    ack, code, location = answer
    with pytest.raises(V2Error) as caught:
        message, _ = parse(malformed(name))
        convert(message, ctx())
    assert (caught.value.ack, caught.value.code, caught.value.location) == (ack, code, location)
    assert caught.value.message


@pytest.mark.parametrize(
    ("value", "fhir"),
    [
        ("20250301", "2025-03-01"),
        ("202503", "2025-03"),
        ("20250301083000-0500", "2025-03-01T08:30:00-05:00"),
        ("20250301083000.1234+0100", "2025-03-01T08:30:00.123400+01:00"),
        ("20250301", "2025-03-01"),
        ("2025-03-01", ""),
        ("20251301", ""),
    ],
)
def test_v2_dates(value, fhir):
    assert v2_datetime(value, default_tz=zoneinfo.ZoneInfo(TIME_ZONE)) == fhir


def test_the_filler_status_refines_a_booking_and_the_placer_order_links_it():
    data = raw("siu_s12").replace(b"|Booked", b"|Pending|ORD7001^EPIC")
    message, _ = parse(data)
    appointment = {r["resourceType"]: r for r in convert(message, ctx())}["Appointment"]
    assert appointment["status"] == "pending"
    assert appointment["basedOn"] == [{"reference": "ServiceRequest/ORD7001"}]


def test_escape_sequences_are_read_as_the_characters_they_stand_for():
    pid = "PID|1||MRN1001^^^HOSP^MR||O\\S\\Brien\\F\\Smith^Ann\\R\\Marie\\E\\||19800214|F|||Caf\\XC3A9\\ St^^Town"
    data = raw("adt_a28").split(b"\r")[0] + b"\r" + pid.encode() + b"\r"
    message, _ = parse(data)
    patient = convert(message, ctx())[0]
    assert patient["name"][0]["family"] == "O^Brien|Smith"
    assert patient["name"][0]["given"] == ["Ann~Marie\\"]
    assert patient["address"][0]["line"] == ["Café St"]  # \Xhh\ bytes in the message's character set


def test_an_embedded_document_becomes_an_attachment_with_its_content_type():
    import base64

    [text, pdf, png] = by_id("mdm_t02_ed")["DocumentReference/DOC4002"]["content"]
    assert text["attachment"]["contentType"].startswith("text/plain")
    assert pdf["attachment"]["contentType"] == "application/pdf"
    assert base64.b64decode(pdf["attachment"]["data"]).startswith(b"%PDF-1.4\n")
    assert (png["attachment"]["contentType"], base64.b64decode(png["attachment"]["data"])) == (
        "image/png",
        bytes.fromhex("89504E470D0A1A0A"),
    )


@pytest.mark.parametrize(
    ("value", "code"),
    [("EPIC^AP^PDF^Base64^not*base64!", "102"), ("EPIC^AP^PDF^Base64^", "101"), ("EPIC^^^Base64^QUJD", "102"),
     ("EPIC^AP^PDF^UUE^QUJD", "103")],
)  # fmt: skip
def test_an_embedded_document_that_cannot_be_read_is_an_ae_at_its_obx(value, code):
    lines = raw("mdm_t02_ed").split(b"\r")
    lines = [line for line in lines if not line.startswith(b"OBX|3|")]
    lines = [b"OBX|2|ED|11488-4^Letter^LN||" + value.encode() + b"||||||F" if line.startswith(b"OBX|2|") else line
             for line in lines]  # fmt: skip
    message, _ = parse(b"\r".join(lines))
    with pytest.raises(V2Error) as caught:
        convert(message, ctx())
    assert (caught.value.ack, caught.value.code, caught.value.location) == ("AE", code, "OBX^2^5")


def test_notes_after_the_obr_are_the_report_and_the_order_notes():
    report = by_id("oru_r01_notes")["DiagnosticReport/F5002"]
    notes = [e["valueAnnotation"] for e in report["extension"] if e["url"].endswith("DiagnosticReport.note")]
    assert [n["text"] for n in notes] == [
        "Specimen slightly hemolyzed; repeat if clinically indicated.",
        "Fasting 12 hours per patient.",
    ]
    assert notes[0]["authorReference"]["display"] == "Dr. Chidi Okafor" and notes[0]["time"].startswith("2025-03-21")
    assert by_id("oru_r01_notes")["Observation/F5002-1"]["note"] == [{"text": "Above the desirable range"}]
    order = by_id("orm_o01_notes")["ServiceRequest/ORD7002"]
    assert order["note"][1] == {"text": "Patient prefers afternoon appointments.", "authorString": "Front desk"}
