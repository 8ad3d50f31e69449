"""HL7 v2 batches (FHS/BHS … BTS/FTS) over MLLP, HTTP and ehr_import: each message of the batch
is stored and acknowledged as if it came alone, and the answer is the batch of those ACKs."""

import socket
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.ehr.models import Hl7Message, Patient
from apps.ehr.services.v2_listen import mllp_routes
from apps.ehr.v2.batch import batch_split
from apps.ehr.v2.mllp import FrameReader, frame

from .test_v2_listener import Running
from .v2_corpus import configure, malformed, raw

FHS = b"FHS|^~\\&|EPIC|HOSP|CLINOPS|CLINOPS|20250301090000||||F0001\r"
BHS = b"BHS|^~\\&|EPIC|HOSP|CLINOPS|CLINOPS|20250301090000||||B0001\r"


def batch(*names: str, file: bool = True) -> bytes:
    """A batch of corpus messages (a name starting with "bad:" is a malformed one)."""
    messages = [malformed(n[4:]) if n.startswith("bad:") else raw(n) for n in names]
    body = BHS + b"".join(messages) + f"BTS|{len(messages)}\r".encode()
    return FHS + body + b"FTS|1\r" if file else body


def lines(ack: bytes | str) -> list[list[str]]:
    text = ack.decode("latin-1") if isinstance(ack, bytes) else ack
    return [segment.split("|") for segment in text.strip("\r").split("\r")]


def answered(ack) -> list[list[str]]:
    """(MSA-1, MSA-2) of each ACK in a batch ACK."""
    return [fields[1:3] for fields in lines(ack) if fields[0] == "MSA"]


@pytest.fixture
def source(ehr_source):
    configure(ehr_source)
    ehr_source.mllp_allowed_addresses = ["127.0.0.1"]
    ehr_source.save()
    return ehr_source


def test_batch_split_gives_the_messages_and_leaves_the_envelope_out():
    found = batch_split(batch("adt_a01", "siu_s12"))
    assert found.messages == [raw("adt_a01"), raw("siu_s12")]
    assert found.batch_header.endswith("B0001") and found.file_header.endswith("F0001")


@pytest.mark.django_db(transaction=True)
def test_a_batch_over_mllp_stores_each_message_and_answers_one_batch_ack(source):
    running = Running(mllp_routes(sources=[source.name], port=0))
    try:
        with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
            sock.sendall(frame(batch("adt_a01", "siu_s12", "bad:unknown_event")))
            reader, frames = FrameReader(max_bytes=1_000_000), []
            while not frames:
                frames = [f for f in reader.feed(sock.recv(65536)) if isinstance(f, bytes)]
    finally:
        running.stop()
    [ack] = frames
    names = [fields[0] for fields in lines(ack)]
    assert names[:2] == ["FHS", "BHS"] and names[-2:] == ["BTS", "FTS"]
    bhs = lines(ack)[1]
    assert bhs[2:6] == ["CLINOPS", "CLINOPS", "EPIC", "HOSP"] and bhs[11] == "B0001"  # BHS-12: the batch answered
    assert lines(ack)[-2][1] == "3"
    assert answered(ack) == [["AA", "ADT0001"], ["AA", "SIU0001"], ["AR", "BAD0002"]]
    assert sorted(Hl7Message.objects.values_list("status", flat=True)) == ["converted", "converted", "rejected"]


@pytest.mark.django_db
def test_a_batch_over_http_is_answered_with_the_batch_ack(client, source, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("ehr:hl7v2_receive", args=[source.name]),
            data=batch("oru_r01", "mdm_t02", file=False),
            content_type="application/hl7-v2",
            HTTP_AUTHORIZATION=f"Bearer {source.token}",
        )
    assert response.status_code == 200
    assert lines(response.content)[0][0] == "BHS"  # no FHS: none was sent
    assert answered(response.content) == [["AA", "ORU0001"], ["AA", "MDM0001"]]
    assert Hl7Message.objects.filter(status="converted").count() == 2
    with django_capture_on_commit_callbacks(execute=True):  # the batch again: each message is a resend
        again = client.post(
            reverse("ehr:hl7v2_receive", args=[source.name]),
            data=batch("oru_r01", "mdm_t02", file=False),
            content_type="application/hl7-v2",
            HTTP_AUTHORIZATION=f"Bearer {source.token}",
        )
    assert answered(again.content) == answered(response.content)
    assert Hl7Message.objects.count() == 2 and set(Hl7Message.objects.values_list("duplicates", flat=True)) == {1}


@pytest.mark.django_db
@pytest.mark.parametrize("form", ["framed", "blank-lines"])
def test_ehr_import_takes_batch_files(tmp_path, source, form):
    data = batch("adt_a01", "adt_a08", "siu_s12")
    data = frame(data) + b"\n" if form == "framed" else data.replace(b"\r", b"\n")
    (tmp_path / "batch.hl7").write_bytes(data)
    out = StringIO()
    call_command("ehr_import", "--source", source.name, str(tmp_path / "batch.hl7"), stdout=out, stderr=StringIO())
    assert "3 v2 message(s)" in out.getvalue()
    assert Hl7Message.objects.filter(channel="file", status="converted").count() == 3
    assert Patient.objects.get().fhir_id == "HOSP-MRN1001"
