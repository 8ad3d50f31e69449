"""HL7 v2 over MLLP: messages per second to ACK and to processed, and the parse-only floor (run by hand).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinops_bench_hl7 \\
        .venv/bin/python benchmarks/hl7_mllp.py [--n 2000] [--connections 4] [--workers 4] [--keep]
    .venv/bin/python benchmarks/hl7_mllp.py --sqlite [--n 500]     # no PostgreSQL: a temporary SQLite file

Into a freshly created and migrated database (dropped at the end unless --keep), with one EHR
source allowed from 127.0.0.1:

  1. the floor, in this process: python-hl7's ``parse`` of every message (the library alone),
     then clinops's read and v2-to-FHIR conversion (``parse`` + ``convert``, no database);
  2. the real listener (``apps.ehr.v2.listener.Listener`` with ``mllp_handle``, what
     ``manage.py hl7_listen`` runs) on a free port in a background thread; --connections TCP
     clients each send their share of the N messages, one at a time, waiting for each ACK as an
     interface engine does: messages/s to ACK (stored, converted, inbox rows committed);
  3. processing as Celery workers would do it: the ids the listener queues go to --workers
     threads calling ``inbox_process`` (validation, version-guarded upsert, workflow handlers);
     messages/s to processed = N / (time from the first send to the last message processed).

The messages are the project's corpus (apps/ehr/tests/fixtures/hl7v2: ADT, SIU, ORU, MDM; the
orders are left out: a bare database has no referral routes, so their handlers would fail), each
with its own control id, patient and visit/appointment/order numbers.
"""

import argparse
import os
import queue
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT / "apps" / "ehr" / "tests" / "fixtures" / "hl7v2"
MIX = ("adt_a01", "adt_a08", "adt_a04", "siu_s12", "oru_r01", "mdm_t02")
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/clinops_bench_hl7"


def setup(args: argparse.Namespace) -> tuple[str, str]:
    """Environment for Django; returns (what database, its URL)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "clinops.settings.base"
    os.environ.setdefault("DJANGO_DEBUG", "false")
    if args.sqlite:
        path = Path(tempfile.mkdtemp()) / "bench.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
        return "SQLite (temporary file)", os.environ["DATABASE_URL"]
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    url = os.environ["DATABASE_URL"]
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return "PostgreSQL", url


def drop(url: str) -> None:
    if url.startswith("sqlite"):
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def messages(n: int) -> list[bytes]:
    """N corpus messages, round robin, each with its own control id and numbers."""
    bases = {name: (CORPUS / f"{name}.hl7").read_bytes().replace(b"\n", b"\r") for name in MIX}
    out = []
    for i in range(n):
        name = MIX[i % len(MIX)]
        data = bases[name]
        header, rest = data.split(b"\r", 1)
        fields = header.split(b"|")
        fields[9] = f"B{i:08d}".encode()  # MSH-10
        tag = f"{i:07d}".encode()
        rest = (
            rest.replace(b"MRN1001", b"M" + tag)
            .replace(b"MRN2002", b"M" + tag)
            .replace(b"V7001", b"V" + tag)
            .replace(b"V8002", b"V" + tag)
            .replace(b"APT1001", b"A" + tag)
            .replace(b"F5001", b"F" + tag)
            .replace(b"LAB9001", b"L" + tag)
            .replace(b"DOC4001", b"D" + tag)
        )
        out.append(b"|".join(fields) + b"\r" + rest)
    return out


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>9,.0f} msgs/s  ({n:,} in {seconds:.2f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=4, help="concurrent MLLP client connections")
    parser.add_argument("--workers", type=int, default=4, help="listener storing threads (and processing threads)")
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file instead of PostgreSQL")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    if args.sqlite:
        args.workers = 1  # SQLite takes one writer at a time
    what, url = setup(args)

    import django

    django.setup()
    import hl7
    from django.core.management import call_command
    from django.db.models import Count

    from apps.ehr.models import EhrSource, Hl7Message, InboxMessage
    from apps.ehr.services import v2_inbox
    from apps.ehr.services.inbox import inbox_process
    from apps.ehr.services.v2_listen import mllp_handle, mllp_routes
    from apps.ehr.v2.convert import convert
    from apps.ehr.v2.listener import Listener
    from apps.ehr.v2.message import parse
    from apps.ehr.v2.mllp import FrameReader, frame

    print(f"HL7 v2 over MLLP on {what}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    call_command("migrate", verbosity=0)
    load = messages(args.n)
    source = EhrSource.objects.create(
        name="bench-v2",
        mllp_allowed_addresses=["127.0.0.1"],
        v2_systems={"HOSP": "urn:oid:2.16.840.1.113883.3.9999.1"},
    )
    ctx = v2_inbox.context_for(source)
    ctx.resolve = lambda *_: None  # the floor reads no database

    # 1. The floor.
    started = time.perf_counter()
    for data in load:
        hl7.parse(data.decode())
    library = time.perf_counter() - started
    started = time.perf_counter()
    for data in load:
        message, _ = parse(data)
        convert(message, ctx)
    reading = time.perf_counter() - started

    # 3. (set up before 2) processing threads fed by what the listener queues after each commit.
    ids: queue.Queue = queue.Queue()
    v2_inbox._queue = lambda batch: ids.put(list(batch))  # instead of Celery; a worker takes it
    done = threading.Event()
    processed_at = [0.0]

    def worker() -> None:
        from django.db import close_old_connections

        while not done.is_set():
            try:
                batch = ids.get(timeout=0.1)
            except queue.Empty:
                continue
            inbox_process(message_ids=batch)
            processed_at[0] = time.perf_counter()
            close_old_connections()

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(args.workers)]
    for thread in workers:
        thread.start()

    # 2. The listener and the clients.
    import asyncio

    loop = asyncio.new_event_loop()
    listener = Listener(mllp_routes(sources=[source.name], port=0), mllp_handle, host="127.0.0.1", workers=args.workers)
    threading.Thread(target=loop.run_forever, daemon=True).start()
    port = asyncio.run_coroutine_threadsafe(listener.start(), loop).result(10)[0]
    shares = [load[i :: args.connections] for i in range(args.connections)]
    answers: list[str] = []

    def client(share: list[bytes]) -> None:
        reader = FrameReader(max_bytes=1_000_000)
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for data in share:
                sock.sendall(frame(data))
                got: list = []
                while not got:
                    got = [f for f in reader.feed(sock.recv(65536)) if isinstance(f, bytes)]
                answers.append(got[0].split(b"MSA|")[1][:2].decode())

    clients = [threading.Thread(target=client, args=(share,)) for share in shares]
    first_send = time.perf_counter()
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    acked = time.perf_counter() - first_send
    expected = InboxMessage.objects.filter(channel="hl7v2").count()
    while InboxMessage.objects.filter(channel="hl7v2", status="received").exists() or not ids.empty():
        time.sleep(0.05)
    time.sleep(0.2)
    done.set()
    for thread in workers:
        thread.join()
    to_processed = max(processed_at[0], first_send + acked) - first_send
    asyncio.run_coroutine_threadsafe(listener.stop(), loop).result(60)

    statuses = dict(
        InboxMessage.objects.filter(channel="hl7v2").values_list("status").annotate(n=Count("id")).order_by()
    )
    acks = {a: answers.count(a) for a in sorted(set(answers))}
    print(
        f"  messages: {args.n:,} ({', '.join(MIX)}), {expected:,} FHIR resources; {args.connections} connection(s), {args.workers} worker(s)"
    )
    print(f"  floor: python-hl7 parse only          {rate(args.n, library)}")
    print(f"  floor: clinops read + v2-to-FHIR      {rate(args.n, reading)}")
    print(f"  MLLP to ACK (stored, converted)       {rate(args.n, acked)}")
    print(f"  MLLP to processed (store, handlers)   {rate(args.n, to_processed)}")
    print(f"  ACKs: {acks}; v2 rows {Hl7Message.objects.count():,}; FHIR messages by status {statuses}")
    print(f"  ACK rate / parse-only floor: {library / acked:.3f}×;  processed / floor: {library / to_processed:.3f}×")
    loop.call_soon_threadsafe(loop.stop)
    if not args.keep:
        from django.db import connections

        connections.close_all()
        drop(url)


if __name__ == "__main__":
    main()
