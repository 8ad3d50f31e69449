"""Enhanced mode: the application ACK MSH-16 asks for goes back to the sender over an outbound
MLLP connection, to a peer the test starts on a free port, the way an interface engine takes it.
Stored with the message, sent after commit outside any transaction, retried, shown in the console."""

import contextlib
import socket
import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.core.roles import Role
from apps.ehr.models import Hl7AppAck, Hl7Message
from apps.ehr.services import v2_app_ack
from apps.ehr.services.v2_app_ack import hl7_app_ack_relay, hl7_app_ack_send
from apps.ehr.services.v2_inbox import hl7_receive
from apps.ehr.v2.mllp import FrameReader, frame

from .network_guard import open_transactions
from .v2_corpus import configure, malformed, raw, segments

pytestmark = pytest.mark.django_db


class Peer:
    """An interface engine's inbound MLLP port: reads framed messages, answers each with ``answer``."""

    def __init__(self, answer: str = "CA") -> None:
        self.answer = answer
        self.received: list[str] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                reader = FrameReader(max_bytes=1_000_000)
                while data := conn.recv(65536):
                    for found in reader.feed(data):
                        if isinstance(found, bytes):
                            text = found.decode("latin-1")
                            self.received.append(text)
                            control = segments(text)["MSH"][9]
                            msh = f"MSH|^~\\&|EPIC|HOSP|CLINOPS|CLINOPS|20250301||ACK|R{control}|P|2.5.1"
                            conn.sendall(frame(f"{msh}\rMSA|{self.answer}|{control}\r".encode()))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not on Linux)
        self.server.close()
        self.thread.join(5)


@pytest.fixture
def peer():
    running = Peer()
    yield running
    running.close()


@pytest.fixture
def source(ehr_source, peer):
    configure(ehr_source)
    ehr_source.mllp_ack_host, ehr_source.mllp_ack_port = "127.0.0.1", peer.port
    ehr_source.save()
    return ehr_source


def enhanced(data: bytes, accept: str, application: str) -> bytes:
    """The message with MSH-15/16 set (its MSH ends at MSH-12)."""
    header, rest = data.split(b"\r", 1)
    return header + f"|||{accept}|{application}\r".encode() + rest


def receive(source, data, capture):
    with capture(execute=True):
        return hl7_receive(source=source, raw=data, channel=Hl7Message.Channel.MLLP, peer="127.0.0.1")


def test_an_application_ack_asked_for_always_is_sent_to_the_sender_after_commit(
    source, peer, django_capture_on_commit_callbacks
):
    seen = []
    exchange = v2_app_ack.mllp_exchange

    def watched(*args, **kwargs):
        seen.append(open_transactions())
        return exchange(*args, **kwargs)

    with mock.patch.object(v2_app_ack, "mllp_exchange", watched):
        receipt = receive(source, enhanced(raw("adt_a01"), "AL", "AL"), django_capture_on_commit_callbacks)
    assert receipt.ack_code == "CA"  # the accept ACK, answered on the connection
    [sent] = peer.received
    ack = segments(sent)
    assert ack["MSA"][1:3] == ["AA", "ADT0001"]
    assert ack["MSH"][14:16] == ["AL", "NE"]  # the sender commits to it; no ACK of the ACK's result
    assert ack["MSH"][4:6] == ["EPIC", "HOSP"]  # addressed back to the sending application
    assert seen == [[]]  # the network only outside any transaction
    row = Hl7AppAck.objects.get()
    assert (row.status, row.reply_code, row.attempts, row.destination) == ("sent", "CA", 1, f"127.0.0.1:{peer.port}")


@pytest.mark.parametrize(
    ("condition", "message", "sent"),
    [
        ("ER", "good", None),
        ("ER", "bad", "AE"),
        ("SU", "good", "AA"),
        ("SU", "bad", None),
        ("NE", "good", None),
        ("", "good", None),
    ],
)
def test_msh16_decides_whether_an_application_ack_is_sent(
    condition, message, sent, source, peer, django_capture_on_commit_callbacks
):
    data = raw("adt_a01") if message == "good" else malformed("no_patient_id")
    receive(source, enhanced(data, "AL", condition), django_capture_on_commit_callbacks)
    if sent is None:
        assert peer.received == [] and not Hl7AppAck.objects.exists()
        return
    [ack] = [segments(m) for m in peer.received]
    assert ack["MSA"][1] == sent
    if sent == "AE":
        assert ack["ERR"][3].startswith("101^") and "PID-3" in ack["ERR"][8]


def test_original_mode_sends_nothing_back(source, peer, django_capture_on_commit_callbacks):
    receive(source, raw("adt_a01"), django_capture_on_commit_callbacks)
    assert peer.received == [] and not Hl7AppAck.objects.exists()


def test_a_sender_that_is_down_gets_it_later_from_the_relay(source, peer, django_capture_on_commit_callbacks):
    peer.close()  # nobody listens on the port now
    receive(source, enhanced(raw("oru_r01"), "AL", "AL"), django_capture_on_commit_callbacks)
    row = Hl7AppAck.objects.get()
    assert row.status == "failed" and row.attempts == 1 and row.next_attempt_at > timezone.now()
    assert "ConnectionRefused" in row.last_error
    assert hl7_app_ack_relay() == 0  # not due yet
    again = Peer()
    try:
        source.mllp_ack_port = again.port
        source.save()
        Hl7AppAck.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        assert hl7_app_ack_relay() == 1  # queued, and run here (tasks are eager in tests)
        row.refresh_from_db()
        assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")
        assert [segments(m)["MSA"][2] for m in again.received] == ["ORU0001"]
    finally:
        again.close()


def test_a_refusal_or_no_address_gives_up_and_the_console_sends_it_again(
    source, peer, client, make_user, django_capture_on_commit_callbacks
):
    peer.answer = "CR"
    receipt = receive(source, enhanced(raw("mdm_t02"), "AL", "AL"), django_capture_on_commit_callbacks)
    row = Hl7AppAck.objects.get()
    assert row.status == "dead" and "refused it (CR)" in row.last_error
    client.force_login(make_user(Role.INTEGRATION_ADMIN, username="ines"))
    url = reverse("ehr:hl7_detail", args=[receipt.message_id])
    page = client.get(url).content.decode()
    assert "Application acknowledgment to the sender" in page and "gave up" in page and "Send it again now" in page
    peer.answer = "CA"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("ehr:hl7_app_ack_send", args=[receipt.message_id]))
    assert response.status_code == 302 and response["Location"] == url
    row.refresh_from_db()
    assert (row.status, row.reply_code) == ("sent", "CA") and len(peer.received) == 2
    page = client.get(url).content.decode()
    assert "the sender answered <code>CA</code>" in page and "Send it again now" not in page


def test_a_source_without_an_address_is_told_who_acts(source, django_capture_on_commit_callbacks):
    source.mllp_ack_host = ""
    source.save()
    receive(source, enhanced(raw("adt_a01"), "AL", "AL"), django_capture_on_commit_callbacks)
    row = Hl7AppAck.objects.get()
    assert row.status == "dead" and "an integration admin sets" in row.last_error


def test_a_send_already_done_is_not_repeated(source, peer, django_capture_on_commit_callbacks):
    receive(source, enhanced(raw("adt_a01"), "AL", "AL"), django_capture_on_commit_callbacks)
    row = hl7_app_ack_send(ack_id=Hl7AppAck.objects.get().pk)  # the task run twice
    assert row.attempts == 1 and len(peer.received) == 1


def test_the_console_counts_application_acks_and_lists_the_ones_not_sent(
    source, peer, client, make_user, django_capture_on_commit_callbacks
):
    receive(source, enhanced(raw("adt_a01"), "AL", "AL"), django_capture_on_commit_callbacks)  # sent
    peer.answer = "CR"
    receive(source, enhanced(raw("siu_s12"), "AL", "AL"), django_capture_on_commit_callbacks)  # refused: dead
    client.force_login(make_user(Role.INTEGRATION_ADMIN, username="ines"))
    overview = client.get(reverse("ehr:console")).content.decode()
    assert "Application acknowledgments to the sender" in overview
    assert f"?source={source.name}&amp;app_ack=dead" in overview
    listed = client.get(reverse("ehr:hl7_list"), {"source": source.name, "app_ack": "dead"}).content.decode()
    assert "SIU0001" in listed and "ADT0001" not in listed
