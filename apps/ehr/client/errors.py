"""What the FHIR client raises. ``transient`` tells the caller whether to retry later.

Messages carry the HTTP status and OperationOutcome issue codes only, so they are safe to log;
what the server said (``outcome``, ``diagnostics``) may quote patient data and is kept for the
caller to store with the data, never logged.
"""

from collections.abc import Mapping
from typing import Any


class FhirClientError(Exception):
    """Calling the EHR failed; ``transient`` tells whether the same call may succeed later."""

    transient = False
    status: int | None = None


class FhirTransportError(FhirClientError):
    """No usable answer (connection refused, timeout, 408, 429, 5xx): retry later."""

    transient = True

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class FhirHttpError(FhirClientError):
    """The EHR refused the request (4xx other than 408/429): retrying the same call will not help."""

    def __init__(self, status: int, outcome: dict | None = None, *, what: str = "the EHR") -> None:
        self.status = status
        self.outcome = outcome if isinstance(outcome, dict) else {}
        codes = _issue_codes(self.outcome)
        super().__init__(f"HTTP {status} from {what}" + (f" ({', '.join(codes)})" if codes else ""))

    @property
    def diagnostics(self) -> str:
        """What the server said (OperationOutcome diagnostics or an OAuth error description).

        May quote the resource: store it with the data (e.g. the outbox row), never log it."""
        if self.outcome.get("resourceType") == "OperationOutcome":
            parts = [
                str(issue.get("diagnostics") or (issue.get("details") or {}).get("text") or issue.get("code") or "")
                for issue in self.outcome.get("issue", [])
                if isinstance(issue, dict)
            ]
            return "; ".join(p for p in parts if p)
        return str(self.outcome.get("error_description") or self.outcome.get("error") or "")


class FhirConfigError(FhirClientError):
    """The source lacks what the call needs (base URL, token URL, a usable private key)."""


def _issue_codes(outcome: Mapping[str, Any]) -> list[str]:
    if outcome.get("resourceType") == "OperationOutcome":
        return [str(i.get("code")) for i in outcome.get("issue", []) if isinstance(i, dict) and i.get("code")][:5]
    return [str(outcome["error"])] if outcome.get("error") else []
