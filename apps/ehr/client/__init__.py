"""A FHIR R4 HTTP client for one EHR source: read, search (following next links), update with
If-Match, create, and Bulk Data ``$export``; authenticated per ``EhrSource.auth_type``.

    client_for(source)      — the client for a source (auth and timeout from settings)
    FhirClientError         — base of what the client raises; ``transient`` says whether to retry
      FhirTransportError    — no answer, a timeout, 408, 429 or 5xx: try again later
      FhirHttpError         — any other 4xx (or an OAuth refusal): retrying will not help
      FhirConfigError       — the source is not configured well enough to call

Patient data and secrets never reach the logs: no bodies, no query strings, no tokens or keys,
and exception messages carry the HTTP status and OperationOutcome issue codes only (what the
server said stays on the exception, ``outcome``, for the caller to store with the data).
Credentials go only to the source's own origin (and its token endpoint): a next link or a
download URL on another host is fetched without them.
"""

from django.conf import settings

from ..models import EhrSource
from .auth import auth_for, token_cache_clear
from .bulk import BulkExport
from .errors import FhirClientError, FhirConfigError, FhirHttpError, FhirTransportError
from .rest import FhirClient, WriteResult
from .wire import fhir_instant, version_of

__all__ = [
    "BulkExport",
    "FhirClient",
    "FhirClientError",
    "FhirConfigError",
    "FhirHttpError",
    "FhirTransportError",
    "WriteResult",
    "client_for",
    "fhir_instant",
    "token_cache_clear",
    "version_of",
]


def client_for(source: EhrSource) -> FhirClient:
    """The FHIR client for a source, authenticated as it says, with the configured timeout."""
    return FhirClient(
        base_url=source.base_url,
        auth=auth_for(source),
        timeout=float(getattr(settings, "EHR_HTTP_TIMEOUT_SECONDS", 30)),
        name=source.name,
    )
