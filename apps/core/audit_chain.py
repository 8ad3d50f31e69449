"""Tamper-evident audit: every change-audit (auditlog ``LogEntry``) and access-log row is
sealed into one hash chain (``AuditSeal``), in the transaction that writes it — except the
access-log rows of list pages (``access_log_listed``), which the sweep below seals within a
minute: sealing on every worklist page was most of its statements (see apps.core.access_log).

Appends to the chain are serialised by a PostgreSQL advisory lock. The writer only *tries*
it: a transaction that would have to wait (another one is sealing) leaves its rows for the
``core.audit_seal_pending`` sweep (beat, every minute), so sealing never waits on, or
deadlocks with, the row locks of the work that wrote the row. A rolled-back row is never
sealed; ``audit_verify`` reports rows still unsealed after ``UNSEALED_GRACE``.

A seal stores the SHA-256 of the row's columns and ``chain_hash = sha256(prev chain_hash +
row hash)``. ``audit_verify`` recomputes both: an altered row no longer matches its seal, a
deleted row leaves a seal without a row, a deleted or altered seal breaks the chain, and a
row written past the application has no seal.

The tail of a chain proves nothing by itself: deleting the newest rows with their seals, or
editing the newest row and deleting its seal (the sweep would seal it again), leaves a chain
that verifies. So the head is anchored outside the database: ``audit_anchor_write`` (beat)
appends the newest seal's id and chain hash to ``CLINOPS_AUDIT_ANCHOR_FILE``, a file the
application's database role cannot touch (make it append-only: ``chattr +a``, or ship the
lines to syslog), and ``audit_verify(anchor=…)`` checks that every anchored seal is still there
with the same hash. And the sweep never seals a row older than ``SWEEP_WINDOW``: such a row was
either written past the application or had its seal deleted, and is reported, not re-sealed.
"""

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from auditlog.models import LogEntry
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, Model, OuterRef
from django.db.models.signals import post_save
from django.utils import timezone

from .models import AccessLog, AuditSeal

logger = logging.getLogger(__name__)

GENESIS = "0" * 64
# An arbitrary constant: the PostgreSQL advisory lock that serialises appends to the chain.
CHAIN_LOCK_KEY = 7_305_110_042

MODELS: dict[str, type[Model]] = {AuditSeal.Kind.CHANGE: LogEntry, AuditSeal.Kind.ACCESS: AccessLog}


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def row_hash(kind: str, values: dict[str, Any]) -> str:
    """SHA-256 over the row's columns, as the database returns them."""
    payload = json.dumps({"kind": kind, **_canonical(values)}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def chain_hash(prev_hash: str, this_row_hash: str) -> str:
    return hashlib.sha256(f"{prev_hash}:{this_row_hash}".encode()).hexdigest()


def _row_values(kind: str, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    return {row["id"]: row for row in MODELS[kind]._default_manager.filter(pk__in=list(ids)).order_by().values()}


UNSEALED_GRACE = timedelta(minutes=10)
# The sweep seals only rows this recent (by the row's own time): a writer that found the chain
# busy left its row at most a sweep interval ago. audit_verify reports older unsealed rows.
SWEEP_WINDOW = UNSEALED_GRACE
TIME_FIELD: dict[str, str] = {AuditSeal.Kind.CHANGE: "timestamp", AuditSeal.Kind.ACCESS: "at"}


def _chain_lock(*, wait: bool) -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite serialises writers itself
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def seal_now_or_later(kind: str, ids: list[int]) -> None:
    """Seal these just-written rows in the current transaction if the chain is free; else the sweep will."""
    if ids:
        seal_rows(kind, ids, wait=False, fresh=True)


def seal_rows(kind: str, ids: list[int], *, wait: bool = True, fresh: bool = False) -> bool:
    """Append seals for these rows to the chain; False when ``wait=False`` and the chain is busy.

    ``fresh``: the rows were inserted by this transaction, so none has a seal yet (one query fewer
    on every audited write). No savepoint either: one INSERT under the chain's lock, and a failure
    fails the writer's transaction, which must not commit an unsealed row it could have sealed."""
    if not ids:
        return True
    with transaction.atomic(savepoint=False):
        if not _chain_lock(wait=wait):
            return False
        last = AuditSeal.objects.order_by("-id").values_list("chain_hash", flat=True).first()
        prev = last or GENESIS
        values = _row_values(kind, ids)
        sealed = (
            set()
            if fresh
            else set(AuditSeal.objects.filter(kind=kind, row_id__in=ids).values_list("row_id", flat=True))
        )
        seals = []
        for pk in ids:
            if pk not in values or pk in sealed:
                continue
            this = row_hash(kind, values[pk])
            link = chain_hash(prev, this)
            seals.append(AuditSeal(kind=kind, row_id=pk, row_hash=this, prev_hash=prev, chain_hash=link))
            prev = link
        AuditSeal.objects.bulk_create(seals)
    return True


def audit_seal_pending(*, batch: int = 5000) -> int:
    """Seal recent rows that were left unsealed (their writer found the chain busy), oldest first.

    Never a row older than SWEEP_WINDOW: one that old without a seal had it deleted (or was
    written past the application), and sealing it again would hide that; audit_verify reports it."""
    done = 0
    since = timezone.now() - SWEEP_WINDOW
    for kind, model in MODELS.items():
        sealed = AuditSeal.objects.filter(kind=kind, row_id=OuterRef("pk"))
        recent = model._default_manager.filter(**{f"{TIME_FIELD[kind]}__gte": since})
        ids = list(recent.filter(~Exists(sealed)).order_by("pk").values_list("pk", flat=True)[:batch])
        seal_rows(kind, ids)
        done += len(ids)
    return done


def _seal_on_create(sender: type[Model], instance: Model, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if created and not raw:
        kind = AuditSeal.Kind.CHANGE if sender is LogEntry else AuditSeal.Kind.ACCESS
        seal_now_or_later(kind, [instance.pk])


def connect() -> None:
    """Seal every LogEntry and AccessLog as it is created (bulk inserts call seal_rows)."""
    post_save.connect(_seal_on_create, sender=LogEntry, dispatch_uid="core.audit_chain.logentry")
    post_save.connect(_seal_on_create, sender=AccessLog, dispatch_uid="core.audit_chain.accesslog")


@dataclass(frozen=True)
class Problem:
    kind: str
    row_id: int | None
    seal_id: int | None
    message: str

    def __str__(self) -> str:
        return f"seal {self.seal_id or '-'} {self.kind} row {self.row_id or '-'}: {self.message}"


def audit_verify(*, batch: int = 2000, anchor: Path | None = None) -> Iterator[Problem]:
    """Walk the chain and the audited tables; yield every altered, deleted or unsealed row; with
    ``anchor`` (an anchor file), every anchored seal that is gone or no longer has its hash."""
    if anchor is not None:
        yield from anchor_verify(anchor, batch=batch)
    prev = GENESIS
    sealed: dict[str, set[int]] = {kind: set() for kind in MODELS}
    last_id = 0
    while True:
        seals = list(AuditSeal.objects.filter(id__gt=last_id).order_by("id")[:batch])
        if not seals:
            break
        values: dict[str, dict[int, dict[str, Any]]] = {
            kind: _row_values(kind, [s.row_id for s in seals if s.kind == kind]) for kind in MODELS
        }
        for seal in seals:
            if seal.prev_hash != prev or seal.chain_hash != chain_hash(seal.prev_hash, seal.row_hash):
                yield Problem(
                    seal.kind, seal.row_id, seal.pk, "the chain is broken here (a seal was removed or altered)"
                )
            prev = seal.chain_hash
            sealed[seal.kind].add(seal.row_id)
            row = values[seal.kind].get(seal.row_id)
            if row is None:
                yield Problem(seal.kind, seal.row_id, seal.pk, "the row was deleted")
            elif row_hash(seal.kind, row) != seal.row_hash:
                yield Problem(seal.kind, seal.row_id, seal.pk, "the row was altered")
        last_id = seals[-1].pk
    cutoff = timezone.now() - UNSEALED_GRACE
    for kind, model in MODELS.items():
        at = "timestamp" if model is LogEntry else "at"
        for pk in (
            model._default_manager.filter(**{f"{at}__lt": cutoff})
            .order_by("pk")
            .values_list("pk", flat=True)
            .iterator()
        ):
            if pk not in sealed[kind]:
                yield Problem(kind, pk, None, "the row has no seal (written past the application)")


# --- the anchor: the chain's head, outside the database ------------------------------------


def anchor_path() -> Path | None:
    path = getattr(settings, "CLINOPS_AUDIT_ANCHOR_FILE", "")
    return Path(path) if path else None


def _last_anchor(path: Path) -> dict[str, Any] | None:
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 4096))
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


def audit_anchor_write(*, path: Path | None = None) -> dict[str, Any] | None:
    """Append the chain's head (newest seal id and chain hash) to the anchor file, if it moved
    since the last line. Returns the line written (None: no file configured, or no change)."""
    path = path or anchor_path()
    if path is None:
        return None
    head = AuditSeal.objects.order_by("-id").values("id", "chain_hash").first()
    if head is None:
        return None
    last = _last_anchor(path)
    if last and last.get("seal") == head["id"] and last.get("chain_hash") == head["chain_hash"]:
        return None
    line = {"at": timezone.now().isoformat(), "seal": head["id"], "chain_hash": head["chain_hash"]}
    # O_APPEND: every line goes to the end, whoever else writes; the file itself should refuse
    # anything but appends (chattr +a) to the application's user.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (json.dumps(line, separators=(",", ":")) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return line


def anchor_verify(path: Path, *, batch: int = 2000) -> Iterator[Problem]:
    """Every seal the anchor file names must still exist with the hash it had then: a missing one
    means the tail was cut (newest rows and seals deleted), a different hash that it was rewritten."""
    try:
        text = path.read_text()
    except OSError as exc:
        yield Problem("anchor", None, None, f"the anchor file {path} cannot be read ({exc.strerror})")
        return
    anchors: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            anchors.append((int(entry["seal"]), entry))
        except (ValueError, KeyError, TypeError):
            yield Problem("anchor", None, None, f"line {number} of the anchor file is not an anchor")
    if not anchors:
        yield Problem("anchor", None, None, f"the anchor file {path} holds no anchor")
        return
    for start in range(0, len(anchors), batch):
        chunk = anchors[start : start + batch]
        found = dict(AuditSeal.objects.filter(pk__in=[pk for pk, _ in chunk]).values_list("pk", "chain_hash"))
        for pk, entry in chunk:
            if pk not in found:
                yield Problem(
                    "anchor", None, pk, f"the seal anchored at {entry.get('at')} is gone: the chain's tail was cut"
                )
            elif found[pk] != entry.get("chain_hash"):
                yield Problem(
                    "anchor",
                    None,
                    pk,
                    f"the seal anchored at {entry.get('at')} has another hash: the chain was rewritten",
                )
