"""The MLLP listener over real TCP: a client sends framed v2 messages and reads the ACKs, the way
an interface engine does. Split frames, two messages in one write, a connection dropped before
its ACK, framing errors, refused addresses and many connections at once."""

import asyncio
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.ehr.models import Hl7Message, InboxMessage
from apps.ehr.services.v2_listen import ListenConfigError, mllp_handle, mllp_routes
from apps.ehr.v2.listener import Listener
from apps.ehr.v2.mllp import END, START, FrameReader, frame, split_file

from .v2_corpus import MESSAGES, configure, malformed, raw, segments

pytestmark = pytest.mark.django_db(transaction=True)


class Running:
    """A listener on its own event loop in a thread (as ``hl7_listen`` runs it), on a free port."""

    def __init__(self, routes, **options):
        self.loop = asyncio.new_event_loop()
        # One storing thread: SQLite's shared in-memory test database locks tables, not rows.
        self.listener = Listener(routes, mllp_handle, host="127.0.0.1", workers=1, **options)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.ports = asyncio.run_coroutine_threadsafe(self.listener.start(), self.loop).result(10)
        self.port = self.ports[0]

    def stop(self):
        asyncio.run_coroutine_threadsafe(self.listener.stop(), self.loop).result(40)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def source(ehr_source):
    configure(ehr_source)
    ehr_source.mllp_allowed_addresses = ["127.0.0.1"]
    ehr_source.save()
    return ehr_source


@pytest.fixture
def listening(source):
    running = Running(mllp_routes(sources=[source.name], port=0), max_bytes=200_000)
    yield running
    running.stop()


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_acks(sock, count):
    reader = FrameReader(max_bytes=1_000_000)
    acks = []
    while len(acks) < count:
        data = sock.recv(65536)
        if not data:
            break
        acks += [segments(f.decode("latin-1")) for f in reader.feed(data) if isinstance(f, bytes)]
    return acks


def test_a_message_is_stored_and_its_ack_sent_back(listening):
    with connect(listening.port) as sock:
        sock.sendall(frame(raw("adt_a01")))
        [ack] = read_acks(sock, 1)
    assert ack["MSA"][1:3] == ["AA", "ADT0001"]
    row = Hl7Message.objects.get()
    assert (row.channel, row.peer, row.status) == ("mllp", "127.0.0.1", "converted")
    assert InboxMessage.objects.filter(envelope=row.envelope, status="processed").count() == 2


def test_a_frame_split_over_many_writes_is_one_message(listening):
    data = frame(raw("oru_r01"))
    with connect(listening.port) as sock:
        for start in range(0, len(data), 97):
            sock.sendall(data[start : start + 97])
            time.sleep(0.002)
        [ack] = read_acks(sock, 1)
    assert ack["MSA"][1:3] == ["AA", "ORU0001"] and Hl7Message.objects.count() == 1


def test_the_end_block_split_between_writes(listening):
    data = frame(raw("adt_a04"))
    with connect(listening.port) as sock:
        sock.sendall(data[:-1])  # everything but the final CR after FS
        time.sleep(0.05)
        sock.sendall(data[-1:])
        [ack] = read_acks(sock, 1)
    assert ack["MSA"][1] == "AA"


def test_two_messages_in_one_write_get_two_acks_in_order(listening):
    with connect(listening.port) as sock:
        sock.sendall(frame(raw("siu_s12")) + frame(raw("siu_s13")))
        acks = read_acks(sock, 2)
    assert [a["MSA"][2] for a in acks] == ["SIU0001", "SIU0002"]
    assert [a["MSA"][1] for a in acks] == ["AA", "AA"]


def test_a_connection_dropped_before_the_ack_loses_nothing_and_the_resend_gets_the_same_ack(listening):
    with connect(listening.port) as sock:
        sock.sendall(frame(raw("mdm_t02")))
        sock.shutdown(socket.SHUT_RDWR)  # gone before the ACK could be read
    # Wait for the listener, not the database (SQLite's shared test database locks whole tables).
    stats = listening.listener.stats
    deadline = time.monotonic() + 10
    while (stats.frames < 1 or stats.in_flight) and time.monotonic() < deadline:
        time.sleep(0.02)
    stored = Hl7Message.objects.get()
    with connect(listening.port) as sock:
        sock.sendall(frame(raw("mdm_t02")))
        [ack] = read_acks(sock, 1)
    assert ack["MSA"][1:3] == ["AA", "MDM0001"]
    assert "|".join(ack["MSA"]) in stored.ack  # the stored ACK, sent again
    stored.refresh_from_db()
    assert stored.duplicates == 1 and Hl7Message.objects.count() == 1


def test_framing_errors_are_survived(listening):
    with connect(listening.port) as sock:
        sock.sendall(b"noise before a frame\r\n" + frame(raw("adt_a08")))
        [ack] = read_acks(sock, 1)
        assert ack["MSA"][1] == "AA"
        sock.sendall(START + b"MSH|^~\\&|" + b"x" * 300_000 + END)  # over the listener's limit
        [too_big] = read_acks(sock, 1)
        assert too_big["MSA"][1] == "AR" and "larger than" in too_big["ERR"][8]
        sock.sendall(START + b"\x00\xff\xfe binary" + END)
        [garbage] = read_acks(sock, 1)
        assert garbage["MSA"][1] == "AR"
        sock.sendall(frame(raw("adt_a13")))  # the connection still works
        [ack] = read_acks(sock, 1)
        assert ack["MSA"][1:3] == ["AA", "ADT0006"]


def test_malformed_messages_get_their_ar_over_mllp(listening):
    with connect(listening.port) as sock:
        sock.sendall(frame(malformed("unknown_type")) + frame(malformed("no_patient_id")))
        acks = read_acks(sock, 2)
    assert [a["MSA"][1] for a in acks] == ["AR", "AE"]


def test_an_address_no_source_allows_is_closed_unanswered(source):
    source.mllp_allowed_addresses = ["10.9.0.0/16"]
    source.save()
    running = Running(mllp_routes(sources=[source.name], port=0))
    try:
        with connect(running.port) as sock:
            try:
                sock.sendall(frame(raw("adt_a01")))
                answer = sock.recv(1024)
            except ConnectionError:  # closed with our bytes unread: a reset
                answer = b""
        assert answer == b""
    finally:
        running.stop()
    assert not Hl7Message.objects.exists() and running.listener.stats.refused == 1


def test_one_port_shared_by_sources_told_apart_by_address(source):
    from tests.plugins.ehr_messages import source_make

    other = configure(source_make("other-ehr", mllp_allowed_addresses=["10.0.0.0/8"]))
    running = Running(mllp_routes(sources=[source.name, other.name], port=0))
    try:
        with connect(running.port) as sock:
            sock.sendall(frame(raw("adt_a01")))
            read_acks(sock, 1)
    finally:
        running.stop()
    assert Hl7Message.objects.get().source == source


def test_many_connections_at_once(listening):
    names = [n for n in MESSAGES if n.startswith(("adt", "siu"))]

    def client(n):
        with connect(listening.port) as sock:
            data = b"".join(frame(raw(name).replace(b"|P|2.", f"-{n}|P|2.".encode(), 1)) for name in names)
            sock.sendall(data)
            return [a["MSA"][1] for a in read_acks(sock, len(names))]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(client, range(8)))
    assert answers == [["AA"] * len(names)] * 8
    assert Hl7Message.objects.count() == 8 * len(names)


def test_routes_refuse_settings_that_cannot_be_served(source):
    from tests.plugins.ehr_messages import source_make

    source.mllp_allowed_addresses = []
    source.save()
    with pytest.raises(ListenConfigError, match="no allowed addresses"):
        mllp_routes(sources=[source.name], port=0)
    source.mllp_allowed_addresses = ["not-an-address"]
    source.save()
    with pytest.raises(ListenConfigError, match="not valid"):
        mllp_routes(sources=[source.name], port=0)
    source.mllp_allowed_addresses, source.mllp_port = ["10.0.0.0/8"], 2575
    source.save()
    source_make("twin", mllp_port=2575, mllp_allowed_addresses=["10.1.2.3"])
    with pytest.raises(ListenConfigError, match="share port 2575"):
        mllp_routes()
    with pytest.raises(CommandError, match="share port 2575"):
        call_command("hl7_listen")


def test_split_file_reads_framed_and_blank_line_separated_files():
    framed = frame(raw("adt_a01")) + b"\n" + frame(raw("adt_a03")) + b"\n"
    assert split_file(framed) == [raw("adt_a01"), raw("adt_a03")]
    blocks = raw("adt_a01").replace(b"\r", b"\n") + b"\n" + raw("adt_a03").replace(b"\r", b"\n")
    assert [m.split(b"\r")[0] for m in split_file(blocks)] == [
        raw("adt_a01").split(b"\r")[0],
        raw("adt_a03").split(b"\r")[0],
    ]


def _self_signed(tmp_path):
    """A certificate for 127.0.0.1 and its key, written as PEM files."""
    from datetime import UTC, datetime, timedelta
    from ipaddress import ip_address

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clinops-test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_mllp_over_tls(source, tmp_path):
    import ssl

    cert, key = _self_signed(tmp_path)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    running = Running(mllp_routes(sources=[source.name], port=0), ssl_context=server)
    try:
        client = ssl.create_default_context(cafile=str(cert))
        with client.wrap_socket(connect(running.port), server_hostname="127.0.0.1") as sock:
            sock.sendall(frame(raw("adt_a01")))
            [ack] = read_acks(sock, 1)
        assert ack["MSA"][1:3] == ["AA", "ADT0001"]
        with connect(running.port) as plain:  # a client speaking plain MLLP to the TLS port
            try:
                plain.sendall(frame(raw("adt_a04")))
                answer = plain.recv(1024)
            except ConnectionError:
                answer = b""
        assert b"MSA" not in answer
    finally:
        running.stop()
    assert Hl7Message.objects.count() == 1 and running.listener.stats.errors == 0


def test_a_quiet_connection_is_closed_and_the_listener_goes_on(source):
    running = Running(mllp_routes(sources=[source.name], port=0), idle_seconds=0.3)
    try:
        with connect(running.port) as quiet:
            quiet.sendall(START + b"MSH|^~\\&|half a frame")  # then nothing
            time.sleep(0.8)
            assert quiet.recv(1024) == b""  # closed by the listener
        with connect(running.port) as sock:
            sock.sendall(frame(raw("adt_a01")))
            assert read_acks(sock, 1)[0]["MSA"][1] == "AA"
    finally:
        running.stop()


def _database_for_a_process(tmp_path):
    """(DATABASE_URL for another process, a function counting its stored v2 messages).

    PostgreSQL: the test database itself (a transactional test commits). SQLite: the test
    database is in this process's memory, so the other process gets a file copy of it."""
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        login = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
        url = f"postgres://{login}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"
        return url, Hl7Message.objects.count
    import sqlite3

    path = tmp_path / "listen.sqlite3"
    connection.ensure_connection()
    with sqlite3.connect(path) as copy:
        connection.connection.backup(copy)

    def count():
        with sqlite3.connect(path) as db:
            return db.execute("SELECT COUNT(*) FROM ehr_hl7message").fetchone()[0]

    return f"sqlite:///{path}", count


def test_the_hl7_listen_command_serves_until_sigterm_and_answers_what_it_took(source, tmp_path):
    """The command as production runs it: its own process, a port, SIGTERM to stop."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    source.mllp_port = port
    source.save()
    url, stored = _database_for_a_process(tmp_path)
    root = Path(__file__).resolve().parents[3]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_"))}
    env = {**clean, "DJANGO_SETTINGS_MODULE": "clinops.settings.test", "DATABASE_URL": url}
    command = [sys.executable, "manage.py", "hl7_listen", "--host", "127.0.0.1", "--workers", "1"]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and command
        command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                sock = connect(port)
                break
            except OSError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "hl7_listen did not start listening"
                time.sleep(0.1)
        with sock:
            sock.sendall(frame(raw("adt_a01")) + frame(raw("siu_s12")))
            answers = [a["MSA"][1] for a in read_acks(sock, 2)]
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert answers == ["AA", "AA"]
    assert process.returncode == 0, err
    assert f"port(s) {port}" in out and "stopping" in out and "2 message(s)" in out
    assert stored() == 2


def test_a_message_that_cannot_be_stored_is_answered_ar_and_the_resend_is_taken(listening):
    from django.db import OperationalError

    down = mock.patch("apps.ehr.services.v2_listen.hl7_receive_any", side_effect=OperationalError("database down"))
    with down, connect(listening.port) as sock:
        sock.sendall(frame(raw("adt_a01")))
        [ack] = read_acks(sock, 1)
    assert ack["MSA"][1] == "AR" and "send it again" in ack["ERR"][8]
    with connect(listening.port) as sock:
        sock.sendall(frame(raw("adt_a01")))
        assert read_acks(sock, 1)[0]["MSA"][1] == "AA"
    assert Hl7Message.objects.count() == 1
