"""Bulk Data ``$export`` (FHIR Bulk Data Access 2.0): kick off with ``Prefer: respond-async``,
poll the status URL honouring Retry-After within a bounded wait, then stream each NDJSON file
a line at a time, so memory stays flat however large the export."""

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from ..services.envelope import parse_instant
from .errors import FhirClientError, FhirHttpError, FhirTransportError
from .wire import FHIR_NDJSON, fhir_instant, retry_after

if TYPE_CHECKING:
    from .rest import FhirClient

logger = logging.getLogger(__name__)

BULK_MAX_WAIT_SECONDS = 1800
BULK_MAX_POLL_INTERVAL = 60.0


class BulkExport:
    """One Bulk Data export: kick off, wait (honouring Retry-After, bounded), download NDJSON."""

    def __init__(self, client: "FhirClient", types: list[str], since: datetime | None, *, max_wait: float) -> None:
        self.client = client
        self.types = list(types)
        self.since = since
        self.max_wait = max_wait
        self.manifest: dict | None = None
        self.transaction_time: datetime | None = None
        self._iterator = self._resources()

    def __iter__(self) -> "BulkExport":
        return self

    def __next__(self) -> dict:
        return next(self._iterator)

    def _resources(self) -> Iterator[dict]:
        status_url = self._kick_off()
        try:
            self.manifest = self._wait(status_url)
            self.transaction_time = parse_instant(str(self.manifest.get("transactionTime") or ""))
            yield from self._download(self.manifest)
        finally:
            self._delete(status_url)

    def _kick_off(self) -> str:
        params = {}
        if self.types:
            params["_type"] = ",".join(self.types)
        if self.since is not None:
            params["_since"] = fhir_instant(self.since)
        response = self.client.request("GET", "$export", params=params, headers={"Prefer": "respond-async"})
        location = response.headers.get("Content-Location")
        response.close()
        if response.status_code != 202 or not location:
            raise FhirHttpError(response.status_code, {"error": "export_not_accepted"}, what="the $export kick-off")
        return urljoin(response.url, location)

    def _wait(self, status_url: str) -> dict:
        deadline = time.monotonic() + self.max_wait
        delay = 1.0
        while True:
            response = self.client.request("GET", status_url)
            if response.status_code == 200:
                return self.client.json_body(response)
            if response.status_code != 202:
                response.close()
                raise FhirHttpError(response.status_code, {"error": "unexpected_status"}, what="the export status")
            wait = min(retry_after(response, default=delay), BULK_MAX_POLL_INTERVAL)
            response.close()
            if time.monotonic() + wait > deadline:
                raise FhirTransportError(f"The export did not finish within {self.max_wait:.0f} s.")
            self.client.sleep(wait)
            delay = min(delay * 2, BULK_MAX_POLL_INTERVAL)

    def _download(self, manifest: dict) -> Iterator[dict]:
        requires_token = bool(manifest.get("requiresAccessToken", True))
        if manifest.get("error"):
            logger.warning(
                "ehr client: the export of source %s reported %d error file(s)",
                self.client.name,
                len(manifest["error"]),
            )
        for output in manifest.get("output", []):
            url = output.get("url") if isinstance(output, dict) else None
            if not url:
                continue
            response = self.client.request(
                "GET", url, headers={"Accept": FHIR_NDJSON}, stream=True, authenticate=requires_token
            )
            with response:
                for number, line in enumerate(response.iter_lines(), start=1):
                    if not line.strip():
                        continue
                    try:
                        resource = json.loads(line)
                    except ValueError as exc:
                        raise FhirTransportError(
                            f"Line {number} of the exported {output.get('type', '')} file is not JSON."
                        ) from exc
                    if isinstance(resource, dict) and resource.get("resourceType"):
                        yield resource

    def _delete(self, status_url: str) -> None:
        """Tell the server it may delete the files (best effort)."""
        with contextlib.suppress(FhirClientError):
            self.client.request("DELETE", status_url).close()
