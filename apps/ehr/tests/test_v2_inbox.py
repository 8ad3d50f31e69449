"""hl7_receive: a v2 message is stored (with the FHIR it becomes) before its ACK is returned; a
resend gets the same ACK; malformed ones get AR/AE with an ERR that says what and where."""

import json
from unittest import mock

import pytest

from apps.ehr.models import Appointment, Encounter, Hl7Message, InboxEnvelope, InboxMessage, Patient
from apps.ehr.services import v2_inbox
from apps.ehr.services.inbox import inbox_receive
from apps.ehr.services.v2_inbox import hl7_receive, hl7_replay

from .v2_corpus import MALFORMED, MESSAGES, configure, expected, malformed, raw, segments

pytestmark = pytest.mark.django_db
HTTP = Hl7Message.Channel.HTTP


@pytest.fixture
def source(ehr_source):
    return configure(ehr_source)


def receive(source, data, capture, **kwargs):
    with capture(execute=True):
        return hl7_receive(source=source, raw=data, channel=kwargs.pop("channel", HTTP), **kwargs)


def test_a_message_is_stored_then_acknowledged_aa_and_processed(source, django_capture_on_commit_callbacks):
    receipt = receive(source, raw("adt_a01"), django_capture_on_commit_callbacks)
    ack = segments(receipt.ack)
    assert ack["MSA"][1:3] == ["AA", "ADT0001"]
    assert ack["MSH"][8] == "ACK^A01^ACK" and ack["MSH"][11] == "2.5.1"
    assert ack["MSH"][2:6] == ["CLINOPS", "CLINOPS", "EPIC", "HOSP"]  # sender and receiver swapped
    row = Hl7Message.objects.get()
    assert bytes(row.envelope.raw) == raw("adt_a01") and row.envelope.content_type == "application/hl7-v2"
    assert (row.status, row.ack, row.control_id, row.message_type) == ("converted", receipt.ack, "ADT0001", "ADT^A01")
    made = InboxMessage.objects.filter(envelope=row.envelope).order_by("id")
    assert [(m.resource_type, m.resource_id, m.channel, m.status) for m in made] == [
        ("Patient", "HOSP-MRN1001", "hl7v2", "processed"),
        ("Encounter", "enc-V7001", "hl7v2", "processed"),
    ]
    assert all(m.correlation_id == row.envelope.correlation_id for m in made)
    patient = Patient.objects.get(fhir_id="HOSP-MRN1001")
    assert (patient.family, patient.mrn, str(patient.birth_date)) == ("Rivera", "MRN1001", "1980-02-14")
    assert Encounter.objects.get(fhir_id="enc-V7001").status == "in-progress"


@pytest.mark.parametrize("name", MESSAGES)
def test_every_corpus_message_is_accepted_and_its_fhir_stored(name, source, django_capture_on_commit_callbacks):
    # The ehr pipeline alone (validation, store); the workflows' handlers are tested in their apps.
    with mock.patch("apps.ehr.services.inbox.handlers_for", return_value=[]):
        receipt = receive(source, raw(name), django_capture_on_commit_callbacks)
    assert receipt.ack_code == "AA", receipt.ack
    stored = {
        (m.resource_type, m.resource_id): json.loads(m.payload)
        for m in InboxMessage.objects.filter(envelope__hl7_message__id=receipt.message_id)
    }
    for resource in expected(name):
        got = stored[resource["resourceType"], resource["id"]]
        assert {k: v for k, v in got.items() if k != "meta"} == resource
    assert not InboxMessage.objects.exclude(status="processed").values_list("last_error", flat=True)


def test_a_resend_gets_the_same_ack_and_changes_nothing(source, django_capture_on_commit_callbacks):
    first = receive(source, raw("oru_r01"), django_capture_on_commit_callbacks)
    count = InboxMessage.objects.count()
    again = receive(source, raw("oru_r01"), django_capture_on_commit_callbacks)
    assert again.duplicate and again.ack == first.ack and again.message_id == first.message_id
    assert InboxMessage.objects.count() == count and InboxEnvelope.objects.count() == 1
    assert Hl7Message.objects.get().duplicates == 1


def test_a_control_id_reused_for_another_message_is_refused(source, django_capture_on_commit_callbacks):
    receive(source, raw("adt_a01"), django_capture_on_commit_callbacks)
    other = raw("adt_a01").replace(b"Rivera", b"Rivers")
    receipt = receive(source, other, django_capture_on_commit_callbacks)
    ack = segments(receipt.ack)
    assert ack["MSA"][1] == "AR" and ack["ERR"][3].startswith("205^")
    assert Patient.objects.get().family == "Rivera" and Hl7Message.objects.count() == 1


def test_the_same_control_id_from_another_source_is_another_message(source, django_capture_on_commit_callbacks):
    from tests.plugins.ehr_messages import source_make

    receive(source, raw("adt_a01"), django_capture_on_commit_callbacks)
    receipt = receive(configure(source_make("other-ehr")), raw("adt_a01"), django_capture_on_commit_callbacks)
    assert receipt.ack_code == "AA" and not receipt.duplicate


@pytest.mark.parametrize(("name", "answer"), MALFORMED.items())
def test_malformed_messages_get_ar_or_ae_with_err_and_are_kept(
    name, answer, source, django_capture_on_commit_callbacks
):
    code, error, location = answer
    receipt = receive(source, malformed(name), django_capture_on_commit_callbacks)
    ack = segments(receipt.ack)
    assert ack["MSA"][1] == code
    err = ack["ERR"]
    assert err[3].split("^")[0] == error and err[4] == "E" and err[8]
    assert err[2].split("^")[: len(location.split("^"))] == location.split("^")[:3]
    row = Hl7Message.objects.get()
    assert row.status == ("rejected" if code == "AR" else "error") and row.error_code == error
    assert not InboxMessage.objects.exists()  # nothing half-converted reaches the store


def test_a_malformed_resend_gets_the_same_answer(source, django_capture_on_commit_callbacks):
    first = receive(source, malformed("unknown_event"), django_capture_on_commit_callbacks)
    again = receive(source, malformed("unknown_event"), django_capture_on_commit_callbacks)
    assert again.ack == first.ack and Hl7Message.objects.get().duplicates == 1


def test_a_rejected_message_corrected_and_resent_with_its_control_id_is_taken(
    source, django_capture_on_commit_callbacks
):
    broken = malformed("bad_birth_date")
    assert receive(source, broken, django_capture_on_commit_callbacks).ack_code == "AE"
    # An AE message is stored: the same control id again is a resend, answered the same.
    assert receive(source, broken, django_capture_on_commit_callbacks).ack_code == "AE"
    unknown = malformed("unknown_event")
    assert receive(source, unknown, django_capture_on_commit_callbacks).ack_code == "AR"
    fixed = unknown.replace(b"ADT^A99^ADT_A01", b"ADT^A04^ADT_A01")
    assert receive(source, fixed, django_capture_on_commit_callbacks).ack_code == "AA"


@pytest.mark.parametrize(
    ("msh15", "msh16", "message", "answer", "sent"),
    [
        ("AL", "NE", "adt_a01", "CA", True),
        ("NE", "AL", "adt_a01", "CA", False),
        ("ER", "AL", "adt_a01", "CA", False),
        ("SU", "AL", "adt_a01", "CA", True),
        ("ER", "AL", "unknown_event", "CR", True),
        ("SU", "AL", "unknown_event", "CR", False),
        ("AL", "AL", "no_patient_id", "CA", True),  # stored: the content error is the application's
    ],
)
def test_enhanced_mode_answers_the_accept_ack_msh15_asks_for(
    msh15, msh16, message, answer, sent, source, django_capture_on_commit_callbacks
):
    data = raw(message) if message in MESSAGES else malformed(message)
    header, rest = data.split(b"\r", 1)
    data = header + b"|||" + msh15.encode() + b"|" + msh16.encode() + b"\r" + rest
    receipt = receive(source, data, django_capture_on_commit_callbacks)
    assert segments(receipt.ack)["MSA"][1] == answer and receipt.send is sent
    row = Hl7Message.objects.get()
    assert row.ack_code == answer and row.app_ack_code == MALFORMED.get(message, ("AA",))[0]


def test_the_ack_is_in_the_message_character_set(source, django_capture_on_commit_callbacks):
    receipt = receive(source, raw("adt_a31"), django_capture_on_commit_callbacks)
    assert receipt.codec == "iso8859-1" and receipt.ack_code == "AA"
    assert segments(receipt.ack)["MSH"][17] == "8859/1"
    assert Patient.objects.get().family == "Müller"


def test_v2_and_fhir_of_one_patient_land_on_one_record(source, django_capture_on_commit_callbacks):
    fhir_patient = {
        "resourceType": "Patient",
        "id": "pat-42",
        "meta": {"versionId": "3", "lastUpdated": "2025-02-01T00:00:00Z"},
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.9999.1", "value": "MRN1001"}],
        "name": [{"family": "Rivera", "given": ["Ana"]}],
    }
    with django_capture_on_commit_callbacks(execute=True):
        inbox_receive(source=source, body=fhir_patient, channel=InboxMessage.Channel.WEBHOOK)
    receive(source, raw("siu_s12"), django_capture_on_commit_callbacks)
    assert list(Patient.objects.values_list("fhir_id", flat=True)) == ["pat-42"]
    assert Appointment.objects.get(fhir_id="APT1001").patient_ref == "Patient/pat-42"


def test_a_conversion_bug_is_an_ae_and_the_message_can_be_converted_again(source, django_capture_on_commit_callbacks):
    with mock.patch.dict(v2_inbox.__dict__, {"convert": mock.Mock(side_effect=KeyError("boom"))}):
        receipt = receive(source, raw("mdm_t02"), django_capture_on_commit_callbacks)
    ack = segments(receipt.ack)
    assert ack["MSA"][1] == "AE" and ack["ERR"][3].startswith("207^")
    assert "boom" not in receipt.ack  # no internals in the answer
    row = Hl7Message.objects.get()
    assert row.status == "error" and not InboxMessage.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        hl7_replay(message_id=row.pk)
    row.refresh_from_db()
    assert row.status == "converted" and row.ack == receipt.ack  # what the sender heard is kept
    assert InboxMessage.objects.filter(resource_type="DocumentReference", status="processed").exists()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff" * 5000,
        b"MSH|^~\\&|A|B|C|D|20250101||ADT^A01|X1|P|2.5.1\r" + b"ZZZ|" + b"^" * 200_000 + b"\r",
        b"MSH|^~\\&|A|B|C|D|20250101||ADT^A01|X2|P|2.5.1\r" + b"NTE|1\r" * 6000,
        b"MSH|^~\\&|A|B|C|D|20250101||ADT^A01|X3|P|2.5.1\r" + b"PID|" + b"|" * 400 + b"\r",
        "MSH|^~\\&|A|B|C|D|20250101||ADT^A01|X4|P|2.5.1||||||UNICODE UTF-8\rPID|1||\udcff".encode(
            "utf-8", "surrogateescape"
        ),
    ],
    ids=["empty", "binary", "deep", "many-segments", "many-fields", "bad-utf8"],
)
def test_hostile_input_is_answered_never_raised(data, source, django_capture_on_commit_callbacks):
    receipt = receive(source, data, django_capture_on_commit_callbacks)
    assert receipt.ack_code in ("AR", "AE")
    assert segments(receipt.ack)["ERR"][8]


def test_once_the_ehr_fhir_record_arrives_later_v2_messages_land_on_it(source, django_capture_on_commit_callbacks):
    receive(source, raw("adt_a01"), django_capture_on_commit_callbacks)  # no FHIR record yet: the v2 one
    fhir_patient = {
        "resourceType": "Patient",
        "id": "pat-42",
        "meta": {"versionId": "1", "lastUpdated": "2025-03-05T00:00:00Z"},
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.9999.1", "value": "MRN1001"}],
    }
    with django_capture_on_commit_callbacks(execute=True):
        inbox_receive(source=source, body=fhir_patient, channel=InboxMessage.Channel.WEBHOOK)
    receive(source, raw("siu_s12"), django_capture_on_commit_callbacks)
    assert Appointment.objects.get().patient_ref == "Patient/pat-42"


def test_two_messages_about_one_patient_in_one_msh7_second_apply_in_arrival_order(
    source, django_capture_on_commit_callbacks
):
    first = raw("adt_a08")  # MSH-7 20250302100000-0500, Rivera
    second = first.replace(b"|ADT0004|", b"|ADT0004B|").replace(b"Rivera^Ana", b"Rivera-Lopez^Ana")
    for data in (first, second):
        assert receive(source, data, django_capture_on_commit_callbacks).ack_code == "AA"
    patient = InboxMessage.objects.filter(resource_type="Patient").order_by("id")
    assert [m.outcome for m in patient] == ["new", "updated"]  # not "unchanged" for being no newer
    assert Patient.objects.get().family == "Rivera-Lopez"
    # Converted again later, the first is still the older of the two: nothing goes back.
    with django_capture_on_commit_callbacks(execute=True):
        hl7_replay(message_id=Hl7Message.objects.get(control_id="ADT0004").pk)
    assert Patient.objects.get().family == "Rivera-Lopez"


def _waits_for_a_lock(connection) -> bool:
    """Whether a connection waits for an advisory lock within 20 s (PostgreSQL's lock table)."""
    import time

    deadline = time.monotonic() + 20
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.02)
    return False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_connections_storing_one_msh7_second_take_turns_and_both_apply(source):
    """The first is held inside its transaction; the second waits for it (not counting the same
    arrival rank), then is stored one microsecond later and applies as the newer."""
    import threading

    from django.db import connection, connections

    first = raw("adt_a08")
    second = first.replace(b"|ADT0004|", b"|ADT0004B|").replace(b"Rivera^Ana", b"Rivera-Lopez^Ana")
    inside, release = threading.Event(), threading.Event()
    store = v2_inbox.inbox_receive_entries

    def held(**kwargs):
        if threading.current_thread().name == "first":
            inside.set()
            release.wait(20)
        return store(**kwargs)

    def send(data):
        try:
            hl7_receive(source=source, raw=data, channel=HTTP)
        finally:
            connections.close_all()

    with mock.patch.object(v2_inbox, "inbox_receive_entries", held):
        one = threading.Thread(target=send, args=(first,), name="first")
        one.start()
        try:
            assert inside.wait(20)
            two = threading.Thread(target=send, args=(second,), name="second")
            two.start()
            assert _waits_for_a_lock(connection), "the second connection did not wait for the first"
        finally:
            release.set()
            one.join(20)
        two.join(20)
    times = {m.version_id: m.ehr_last_updated for m in InboxMessage.objects.filter(resource_type="Patient")}
    assert (times["v2-ADT0004B"] - times["v2-ADT0004"]).total_seconds() == 0.000001
    from apps.ehr.services.inbox import inbox_process

    inbox_process(message_ids=list(InboxMessage.objects.order_by("id").values_list("id", flat=True)))
    assert Patient.objects.get().family == "Rivera-Lopez"
