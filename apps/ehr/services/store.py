"""Writes to the local store: version-guarded upserts enforced by the database.

One ``INSERT … ON CONFLICT (source_id, fhir_id) DO UPDATE … WHERE <newer>`` per resource: a
duplicate or an older version changes nothing, concurrent writers of one resource cannot
both win, and no search-then-insert race exists. "Newer" is the pair
``(version_seq, last_updated_us)``: a numeric ``meta.versionId`` first, then
``meta.lastUpdated`` (the receipt time when the EHR sent none). A delete is the same upsert
of a tombstone, so an older version arriving after a delete does not bring it back.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from django.db import connection
from django.db.models import Field
from django.utils import timezone

from apps.core.sql_relations import column_of

from ..models import FhirResource, StoredResource, store_model_for
from .extract import EXTRACTORS, generic_keys

CHUNK = 200  # resources per multi-row upsert: 200 × ~30 columns stays under SQLite's 32,766 parameters
COMMON = [
    "source_id",
    "fhir_id",
    "version_id",
    "last_updated",
    "last_updated_us",
    "version_seq",
    "content_sha256",
    "raw",
    "deleted",
    "revision",
    "first_stored_at",
    "stored_at",
]


@dataclass(frozen=True)
class StoreResult:
    outcome: str  # new | updated | unchanged | deleted
    row_id: int | None


def version_seq(version_id: str) -> int:
    return int(version_id) if version_id.isdigit() and len(version_id) < 18 else 0


def micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


@cache
def _upsert_parts(model: type[FhirResource]) -> tuple[str, str, str, list[str]]:
    typed = [f.column for f in model._meta.concrete_fields if f.column and f.column not in COMMON and not f.primary_key]
    columns = COMMON + typed
    q = connection.ops.quote_name
    table = q(model._meta.db_table)
    updates = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in columns if c not in ("first_stored_at", "revision"))
    # Identifiers only come from the model's own metadata, quoted; values are parameters.
    head = f"INSERT INTO {table} ({', '.join(q(c) for c in columns)}) VALUES "  # noqa: S608
    row = f"({', '.join(['%s'] * len(columns))})"
    # The generic store keeps every other type in one table: its identity includes the type.
    identity = [q("source_id"), *([q("resource_type")] if model is StoredResource else []), q("fhir_id")]
    tail = (
        f"ON CONFLICT ({', '.join(identity)}) DO UPDATE SET {updates}, "
        f"{q('revision')} = {table}.{q('revision')} + 1 "
        f"WHERE (excluded.{q('version_seq')}, excluded.{q('last_updated_us')}) > "
        f"({table}.{q('version_seq')}, {table}.{q('last_updated_us')}) "
        f"RETURNING {q('id')}, {q('revision')}, {q('deleted')}, {q('fhir_id')}"
    )
    return head, row, tail, columns


def _upsert_sql(model: type[FhirResource], rows: int = 1) -> tuple[str, list[str]]:
    """The version-guarded upsert of ``rows`` resources of ``model``, and its columns."""
    head, row, tail, columns = _upsert_parts(model)
    return f"{head}{', '.join([row] * rows)} {tail}", columns


def _prep(model: type[FhirResource], values: dict[str, Any], columns: list[str]) -> list[Any]:
    fields = {f.column: f for f in model._meta.concrete_fields}
    return [fields[c].get_db_prep_save(values[c], connection) for c in columns]


def resource_upsert(
    *,
    source_id: int,
    resource: dict[str, Any],
    version_id: str,
    last_updated: datetime,
    deleted: bool = False,
) -> StoreResult:
    """Store one resource (or its tombstone) if it is newer than what the store holds."""
    model = store_model_for(resource["resourceType"])
    sql, columns = _upsert_sql(model)
    with connection.cursor() as cursor:
        cursor.execute(
            sql, _row(model, columns, source_id, resource, version_id, last_updated, deleted, timezone.now())
        )
        row = cursor.fetchone()
    return _result(row)


def resources_upsert(
    *, source_id: int, resource_type: str, versions: list[tuple[dict[str, Any], str, datetime]]
) -> dict[str, StoreResult]:
    """``resource_upsert`` for many resources of one type, each at most once (resource, version
    id, last updated): one multi-row statement per ``CHUNK``, the same version guard. Returns the
    result by FHIR id; a resource the store already held at that version or newer is unchanged."""
    model = store_model_for(resource_type)
    now = timezone.now()
    results = {str(resource["id"]): StoreResult("unchanged", None) for resource, _, _ in versions}
    for start in range(0, len(versions), CHUNK):
        chunk = versions[start : start + CHUNK]
        sql, columns = _upsert_sql(model, len(chunk))
        params = [
            value
            for resource, version_id, last_updated in chunk
            for value in _row(model, columns, source_id, resource, version_id, last_updated, False, now)
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            results.update({row[3]: _result(row) for row in cursor.fetchall()})
    return results


def store_rows(resource_type: str, row_ids: list[int]) -> dict[int, FhirResource]:
    """The store rows of one type by row id, in one query (for the handlers of a batch)."""
    return store_model_for(resource_type)._default_manager.in_bulk(row_ids)


def _result(row: tuple | None) -> StoreResult:
    if row is None:
        return StoreResult("unchanged", None)
    row_id, revision, is_deleted = row[:3]
    if is_deleted:
        return StoreResult("deleted", row_id)
    return StoreResult("new" if revision == 1 else "updated", row_id)


def resource_rewrite(*, record: FhirResource, resource: dict[str, Any]) -> None:
    """Replace a stored resource's content in place, keeping its version (its place in version
    order): for a change clinops makes to what the EHR sent, e.g. a reference to a merged patient."""
    model = type(record)
    typed = EXTRACTORS.get(resource["resourceType"], generic_keys)(resource)
    canonical = json.dumps(resource, sort_keys=True, separators=(",", ":"))
    fields = {
        "raw": resource,
        "content_sha256": hashlib.sha256(canonical.encode()).hexdigest(),
        "stored_at": timezone.now(),
        **{cast(Field, model._meta.get_field(name)).attname: value for name, value in typed.items()},
    }
    model.objects.filter(pk=record.pk).update(**fields)


def _row(
    model: type[FhirResource],
    columns: list[str],
    source_id: int,
    resource: dict[str, Any],
    version_id: str,
    last_updated: datetime,
    deleted: bool,
    now: datetime,
) -> list[Any]:
    """The upsert's parameters for one resource (or its tombstone)."""
    resource_type = resource["resourceType"]
    extract = EXTRACTORS.get(resource_type, generic_keys)
    typed = {} if deleted else extract(resource)
    if deleted:
        typed = {f.column: f.get_default() for f in model._meta.concrete_fields if f.column not in COMMON}
        typed.pop("id", None)
    if model is StoredResource:
        typed["resource_type"] = resource_type
    canonical = json.dumps(resource, sort_keys=True, separators=(",", ":"))
    values = {
        "source_id": source_id,
        "fhir_id": str(resource["id"]),
        "version_id": version_id,
        "last_updated": last_updated,
        "last_updated_us": micros(last_updated),
        "version_seq": version_seq(version_id),
        "content_sha256": hashlib.sha256(canonical.encode()).hexdigest(),
        "raw": resource,
        "deleted": deleted,
        "revision": 1,
        "first_stored_at": now,
        "stored_at": now,
        **{column_of(model, name): value for name, value in typed.items()},
    }
    return _prep(model, values, columns)
