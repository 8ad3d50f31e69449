"""Deliver the simulated EHR's events through clinops' real interfaces only: Bulk NDJSON files
for ``manage.py ehr_import``, or the FHIR webhook (``POST /integrations/<source>/fhir``) on this
machine. Nothing here touches the database."""

import copy
import json
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import requests

from .generator import ORDER, Event

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class DeliveryError(Exception):
    """The target refused or could not be reached; the message says which and why (no payload)."""


def ndjson_name(resource_type: str) -> str:
    """``05-ServiceRequest.ndjson``: ehr_import reads a folder's files in name order, and the
    referral handlers need a ServiceRequest before the Appointments based on it."""
    index = ORDER.index(resource_type) + 1 if resource_type in ORDER else len(ORDER) + 1
    return f"{index:02d}-{resource_type}.ndjson"


def ndjson_write(events: Iterable[Event], out_dir: Path) -> Counter:
    """One NDJSON file per resource type, each in event order; returns the count per type."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lines: dict[str, list[str]] = {}
    for event in events:
        rtype = event.resource["resourceType"]
        lines.setdefault(rtype, []).append(json.dumps(event.resource, separators=(",", ":"), ensure_ascii=False))
    for rtype, rows in lines.items():
        (out_dir / ndjson_name(rtype)).write_text("\n".join(rows) + "\n", encoding="utf-8")
    return Counter({rtype: len(rows) for rtype, rows in lines.items()})


def restamp(resource: dict, at: datetime) -> dict:
    """A copy whose ``meta.lastUpdated`` is ``at`` (a live feed happens now, not when simulated)."""
    stamped = copy.deepcopy(resource)
    stamped["meta"]["lastUpdated"] = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return stamped


def webhook_url(base_url: str, source: str) -> str:
    """The webhook of ``source`` on ``base_url``; anything but this machine is refused."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or (parts.hostname or "") not in LOCAL_HOSTS:
        raise DeliveryError(
            f"--url must point at this machine (http://127.0.0.1:PORT or http://localhost:PORT), not {base_url!r}: "
            "the simulator only feeds a local clinops."
        )
    return f"{base_url.rstrip('/')}/integrations/{source}/fhir"


class Webhook:
    """POSTs one resource per request with the source's bearer token."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        self.url, self.timeout = url, timeout
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"})

    def post(self, resource: dict) -> int:
        body = json.dumps(resource, separators=(",", ":"), ensure_ascii=False).encode()
        try:
            response = self.session.post(self.url, data=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise DeliveryError(f"{self.url} could not be reached: {exc.__class__.__name__}") from exc
        if response.status_code == 401:
            raise DeliveryError("The webhook refused the token (401): pass the source's token with --token.")
        if response.status_code >= 400:
            diagnostics = _diagnostics(response)
            raise DeliveryError(f"The webhook answered {response.status_code}: {diagnostics}")
        return response.status_code


def _diagnostics(response: requests.Response) -> str:
    try:
        issues = response.json().get("issue") or [{}]
        return str(issues[0].get("diagnostics", ""))[:300]
    except ValueError:
        return response.reason or ""
