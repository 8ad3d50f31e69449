"""The FHIR REST client of one EHR source: read, search pages (following next links), update
with If-Match, create, and the Bulk Data ``$export`` (``bulk.py``)."""

import json
import logging
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit

import requests

from .auth import Auth
from .bulk import BULK_MAX_WAIT_SECONDS, BulkExport
from .errors import FhirConfigError, FhirHttpError, FhirTransportError
from .wire import FHIR_JSON, TRANSIENT_STATUSES, json_or_empty, origin, retry_after, version_of

logger = logging.getLogger(__name__)

MAX_PAGES = 10_000


class WriteResult(NamedTuple):
    status: int
    body: dict
    version_id: str | None


class FhirClient:
    """One EHR's FHIR REST API. Not thread-safe: make one per task (``client_for``)."""

    def __init__(
        self,
        *,
        base_url: str,
        auth: Auth | None = None,
        timeout: float = 30.0,
        session: requests.Session | None = None,
        name: str = "",
    ) -> None:
        if not base_url:
            raise FhirConfigError("This source has no FHIR base URL.")
        self.base_url = base_url.rstrip("/")
        self.auth = auth or Auth()
        self.timeout = timeout
        self.session = session or requests.Session()
        self.name = name
        self.sleep = time.sleep  # replaceable in tests
        self._origin = origin(self.base_url)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "FhirClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the wire ---

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        authenticate: bool = True,
    ) -> requests.Response:
        """Send one request; raise FhirTransportError / FhirHttpError unless it is 2xx or 3xx."""
        url = self.url(path)
        sent_headers = {"Accept": FHIR_JSON, **(headers or {})}
        data = None
        if body is not None:
            sent_headers["Content-Type"] = f"{FHIR_JSON}; charset=utf-8"
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        # Credentials go to the source's own origin only, never to a host a link points at.
        authenticate = authenticate and origin(url) == self._origin
        for attempt in (1, 2):
            auth_headers = self.auth.headers(self.session, self.timeout) if authenticate else {}
            started = time.monotonic()
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers={**sent_headers, **auth_headers},
                    timeout=self.timeout,
                    stream=stream,
                )
            except requests.Timeout as exc:
                raise FhirTransportError(f"{method} {self._what(url)}: the EHR did not answer in time.") from exc
            except requests.RequestException as exc:
                raise FhirTransportError(
                    f"{method} {self._what(url)}: could not reach the EHR ({exc.__class__.__name__})."
                ) from exc
            logger.debug(
                "ehr client: %s %s -> %s in %.0f ms",
                method,
                self._what(url),
                response.status_code,
                (time.monotonic() - started) * 1000,
            )
            # An access token can expire or be revoked early: fetch a new one once.
            if response.status_code == 401 and authenticate and attempt == 1 and self.auth.invalidate():
                response.close()
                continue
            break
        self._raise_for_status(method, url, response)
        return response

    def _what(self, url: str) -> str:
        """The resource type or operation a URL addresses: safe to log (no ids, no query)."""
        path = urlsplit(url).path
        base_path = urlsplit(self.base_url).path
        rest = path[len(base_path) :] if path.startswith(base_path) else path
        first = rest.strip("/").split("/", 1)[0]
        return first or "[base]"

    def _raise_for_status(self, method: str, url: str, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        if status >= 500 or status in TRANSIENT_STATUSES:
            wait = retry_after(response, default=0.0) or None
            response.close()
            raise FhirTransportError(
                f"{method} {self._what(url)}: HTTP {status} from the EHR", status=status, retry_after=wait
            )
        outcome = json_or_empty(response)
        response.close()
        raise FhirHttpError(status, outcome)

    def json_body(self, response: requests.Response) -> dict:
        try:
            body = response.json()
        except ValueError as exc:
            raise FhirTransportError(
                f"The EHR answered HTTP {response.status_code} with something that is not JSON."
            ) from exc
        if not isinstance(body, dict):
            raise FhirTransportError("The EHR answered with JSON that is not a FHIR resource.")
        return body

    # --- interactions ---

    def read(self, resource_type: str, resource_id: str) -> dict:
        """``GET [base]/Type/id``."""
        return self.read_versioned(resource_type, resource_id)[0]

    def read_versioned(self, resource_type: str, resource_id: str) -> tuple[dict, str | None]:
        """The resource and its version (``meta.versionId``, else the ETag)."""
        response = self.request("GET", f"{resource_type}/{resource_id}")
        body = self.json_body(response)
        return body, version_of(body, response.headers.get("ETag"))

    def search_pages(self, resource_type: str, params: Mapping[str, str]) -> Iterator[dict]:
        """Each searchset Bundle page of ``GET [base]/Type?params``, following ``link[next]``."""
        response = self.request("GET", resource_type, params=params)
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page = self.json_body(response)
            if page.get("resourceType") != "Bundle":
                raise FhirTransportError(f"A search of {resource_type} answered with a {page.get('resourceType')}.")
            yield page
            next_url = next(
                (
                    link.get("url")
                    for link in page.get("link", [])
                    if isinstance(link, dict) and link.get("relation") == "next" and link.get("url")
                ),
                None,
            )
            if not next_url:
                return
            # A next link may be relative to the page's own address (rare) or absolute (usual).
            next_url = urljoin(response.url, next_url)
            if next_url in seen:
                raise FhirTransportError(f"The search of {resource_type} links back to a page it already sent.")
            seen.add(next_url)
            response = self.request("GET", next_url)
        raise FhirTransportError(f"The search of {resource_type} went past {MAX_PAGES} pages.")

    def update(self, resource: Mapping[str, Any], *, if_match: str | None = None) -> WriteResult:
        """``PUT [base]/Type/id``, with ``If-Match: W/"<if_match>"`` when a version is given."""
        headers = {"Prefer": "return=representation"}
        if if_match:
            headers["If-Match"] = f'W/"{if_match}"'
        response = self.request("PUT", f"{resource['resourceType']}/{resource['id']}", body=resource, headers=headers)
        return self._write_result(response)

    def create(self, resource: Mapping[str, Any], *, if_none_exist: str | None = None) -> WriteResult:
        """``POST [base]/Type`` (conditional with ``If-None-Exist`` when given)."""
        headers = {"Prefer": "return=representation"}
        if if_none_exist:
            headers["If-None-Exist"] = if_none_exist
        response = self.request("POST", resource["resourceType"], body=resource, headers=headers)
        return self._write_result(response)

    def _write_result(self, response: requests.Response) -> WriteResult:
        body = json_or_empty(response) if response.content else {}
        version = version_of(body, response.headers.get("ETag"))
        if version is None and response.headers.get("Location"):
            # Location: [base]/Type/id/_history/vid
            location = response.headers["Location"].rstrip("/").split("/")
            if len(location) >= 2 and location[-2] == "_history":
                version = location[-1]
        return WriteResult(response.status_code, body, version)

    def bulk_export(
        self, types: list[str], since: datetime | None, *, max_wait: float = BULK_MAX_WAIT_SECONDS
    ) -> BulkExport:
        """System-level ``$export``: an iterator over the exported resources (dicts), file by
        file, line by line; ``transaction_time`` is set once the export is complete."""
        return BulkExport(self, types, since, max_wait=max_wait)
