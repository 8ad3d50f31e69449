"""Split what the EHR sent into inbox entries, without judging the resources yet.

A body is one FHIR resource or a Bundle (transaction, batch, collection, searchset, history,
message, an R4B subscription-notification, or an R4 backport notification: a history Bundle
whose first entry is a SubscriptionStatus ``Parameters``). Only the envelope is checked here —
is it JSON, is it FHIR, are the entries objects — and a broken envelope raises
``EnvelopeError`` (HTTP 400). Each resource is validated later, on its own, so one invalid
entry fails alone while the rest of its Bundle lands.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apps.core.errors import ApplicationError
from apps.core.json_input import JsonInputError, json_loads

# Entries that describe a delivery rather than carry data.
NOTIFICATION_META_TYPES = {"SubscriptionStatus", "MessageHeader"}
# FHIR R4's id rule (http://hl7.org/fhir/R4/datatypes.html#id).
ID_RE = re.compile(r"[A-Za-z0-9\-.]{1,64}\Z")
REFERENCE_RE = re.compile(r"(?:^|/)(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/(?P<vid>[^/]+))?$")


class EnvelopeError(ApplicationError):
    """The body is not FHIR we can take: answered 400 with an OperationOutcome."""

    def __init__(self, message: str, *, expression: str = "") -> None:
        super().__init__(message, code="invalid_envelope")
        self.expression = expression


@dataclass(frozen=True)
class Entry:
    operation: str  # InboxMessage.Operation value
    resource_type: str
    resource_id: str
    version_id: str
    last_updated: str  # meta.lastUpdated as sent ("" if none)
    payload: str  # the resource JSON ("" for delete and fetch)
    problem: str = ""  # why the entry cannot be applied (an invalid id): stored as a dead letter

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.payload.encode()).hexdigest()

    def idempotency_key(self, source_id: int) -> str:
        # The same version of the same resource is one message, however often and by
        # whichever channel it arrives; without a version, the same content is.
        version = self.version_id or self.last_updated or f"sha:{self.sha256}"
        key = f"{source_id}|{self.operation}|{self.resource_type}/{self.resource_id}|{version}"
        return hashlib.sha256(key.encode()).hexdigest()


def parse_body(body: bytes) -> Any:
    """Decode JSON, or raise EnvelopeError saying where it broke (or that it nests too deep, or
    holds a lone surrogate: apps.core.json_input)."""
    if not body.removeprefix(b"\xef\xbb\xbf").strip():
        raise EnvelopeError("The body is empty; send a FHIR resource or Bundle as JSON.")
    try:
        return json_loads(body)
    except JsonInputError as exc:
        raise EnvelopeError(exc.message) from None


def id_problem(resource_type: str, resource_id: str) -> str:
    """Why ``resource_id`` is not a FHIR id ("" when it is one)."""
    if ID_RE.match(resource_id):
        return ""
    shown = resource_id if len(resource_id) <= 80 else f"{resource_id[:64]}… ({len(resource_id)} characters)"
    return f"{resource_type}.id {shown!r} is not a FHIR id: 1 to 64 characters among letters, digits, '-' and '.'."


def reject_invalid_ids(entries: list[Entry]) -> None:
    """Refuse the whole delivery (HTTP 400) when an entry's id is not a FHIR id."""
    for index, entry in enumerate(entries):
        if entry.problem:
            where = f"entry[{index}]" if len(entries) > 1 else entry.resource_type
            raise EnvelopeError(entry.problem, expression=f"{where}.id")


def split(document: Any) -> list[Entry]:
    """The inbox entries of one FHIR resource or Bundle; an entry whose id is not a FHIR id
    carries the ``problem`` (ids are never cut short: two long ids would become one)."""
    if not isinstance(document, dict):
        raise EnvelopeError("The body is JSON but not a FHIR resource: expected an object with a resourceType.")
    resource_type = document.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        raise EnvelopeError("The body is JSON but not FHIR: it has no resourceType.", expression="resourceType")
    if resource_type != "Bundle":
        return [_resource_entry(document, fallback_id="")]
    entries = document.get("entry", [])
    if not isinstance(entries, list):
        raise EnvelopeError("Bundle.entry must be a list.", expression="Bundle.entry")
    bundle_type = document.get("type", "")
    local = _local_references(entries)
    out: list[Entry] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise EnvelopeError(f"Bundle.entry[{index}] is not an object.", expression=f"Bundle.entry[{index}]")
        made = _bundle_entry(entry, index, bundle_type, first=index == 0, local=local)
        if made is not None:
            out.append(made)
    return out


def _local_references(entries: list) -> dict[str, str]:
    """``urn:uuid:…`` fullUrl → the ``Type/id`` its entry is stored under (its id, else the uuid).

    Entries of a transaction refer to each other by these fullUrls; like a FHIR server
    processing the transaction, the references are rewritten to ``Type/id``, or links such
    as DiagnosticReport.result → Observation would be lost."""
    local = {}
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        full_url = str(entry.get("fullUrl", "")) if isinstance(entry, dict) else ""
        if full_url.startswith("urn:uuid:") and isinstance(resource, dict) and resource.get("resourceType"):
            local[full_url] = f"{resource['resourceType']}/{resource.get('id') or full_url.removeprefix('urn:uuid:')}"
    return local


def _resolve_local(value: Any, local: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            k: local.get(v, v) if k == "reference" and isinstance(v, str) else _resolve_local(v, local)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_resolve_local(v, local) for v in value]
    return value


def _bundle_entry(entry: dict, index: int, bundle_type: str, *, first: bool, local: dict[str, str]) -> Entry | None:
    resource = entry.get("resource")
    request: Any = entry.get("request")
    if not isinstance(request, dict):
        request = {}
    method = str(request.get("method", "")).upper()
    if method == "DELETE":
        match = REFERENCE_RE.search(str(request.get("url", "")).split("?")[0])
        if not match:
            raise EnvelopeError(
                f"Bundle.entry[{index}].request.url must name the deleted resource as Type/id.",
                expression=f"Bundle.entry[{index}].request.url",
            )
        response: Any = entry.get("response")
        if not isinstance(response, dict):
            response = {}
        version = match["vid"] or _etag_version(response.get("etag"))
        return Entry("delete", match["type"], match["id"], version, str(response.get("lastModified") or ""), "")
    search: Any = entry.get("search")
    if not isinstance(search, dict):
        search = {}
    if method == "GET" or search.get("mode") == "outcome":
        return None  # a read request or a search's own OperationOutcome carries no data
    if resource is None:
        full_url = str(entry.get("fullUrl", ""))
        match = REFERENCE_RE.search(full_url)
        if match and bundle_type in ("history", "subscription-notification"):
            # An id-only notification: the resource is fetched from the EHR when processed.
            return Entry("fetch", match["type"], match["id"], match["vid"] or "", "", "")
        raise EnvelopeError(f"Bundle.entry[{index}] has no resource.", expression=f"Bundle.entry[{index}]")
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise EnvelopeError(
            f"Bundle.entry[{index}].resource is not a FHIR resource (no resourceType).",
            expression=f"Bundle.entry[{index}].resource",
        )
    rtype = resource["resourceType"]
    if rtype in NOTIFICATION_META_TYPES:
        return None
    if first and rtype == "Parameters" and bundle_type == "history":
        return None  # R4 backport: the SubscriptionStatus travels as Parameters in entry 0
    fallback = ""
    full_url = str(entry.get("fullUrl", ""))
    if full_url.startswith("urn:uuid:"):
        fallback = full_url.removeprefix("urn:uuid:")
    elif match := REFERENCE_RE.search(full_url):
        fallback = match["id"]
    return _resource_entry(_resolve_local(resource, local) if local else resource, fallback_id=fallback)


def _etag_version(etag: Any) -> str:
    """``W/"4"`` → ``4``."""
    return str(etag or "").removeprefix("W/").strip('"')[:64]


def _resource_entry(resource: dict, *, fallback_id: str) -> Entry:
    meta: Any = resource.get("meta")
    if not isinstance(meta, dict):
        meta = {}
    payload = json.dumps(resource, separators=(",", ":"), ensure_ascii=False)
    resource_id = str(resource.get("id") or fallback_id or "")
    if not resource_id:
        # A create with no id and no fullUrl: the content names it, so a resend is a duplicate.
        resource_id = "sha-" + hashlib.sha256(payload.encode()).hexdigest()[:40]
    return Entry(
        "upsert",
        resource["resourceType"],
        resource_id,
        str(meta.get("versionId", "") or "")[:64],
        str(meta.get("lastUpdated", "") or ""),
        payload,
        problem=id_problem(resource["resourceType"], resource_id),
    )


def parse_instant(value: str) -> datetime | None:
    """A FHIR instant/dateTime as an aware datetime (None when absent or partial)."""
    if not value or len(value) < 19:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None
