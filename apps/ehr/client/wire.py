"""Small helpers shared by the REST client and the bulk export: no I/O of their own."""

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

FHIR_JSON = "application/fhir+json"
FHIR_NDJSON = "application/fhir+ndjson"
TRANSIENT_STATUSES = {408, 429}


def origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def json_or_empty(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def retry_after(response: requests.Response, default: float) -> float:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return default
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max((when - datetime.now(tz=when.tzinfo)).total_seconds(), 0.0)


def version_of(resource: Mapping[str, Any], etag: str | None = None) -> str | None:
    """``meta.versionId``, else the version in a weak ETag (``W/"3"`` → ``3``)."""
    meta: Any = resource.get("meta")
    if not isinstance(meta, dict):
        meta = {}
    if meta.get("versionId"):
        return str(meta["versionId"])
    if etag:
        return etag.strip().removeprefix("W/").strip('"') or None
    return None


def fhir_instant(value: datetime) -> str:
    """An aware datetime as a FHIR instant in UTC (milliseconds, or microseconds when present)."""
    value = value.astimezone(UTC)
    if value.microsecond % 1000:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
