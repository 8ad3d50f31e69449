"""Every failure on a FHIR route becomes an OperationOutcome: 4xx for the client's mistakes, never a 500 page."""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import Http404, JsonResponse
from rest_framework import exceptions

from ..outcome import FHIR_JSON, operation_outcome

logger = logging.getLogger(__name__)

# OperationOutcome.issue.code (http://hl7.org/fhir/issue-type) per HTTP status.
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    410: "deleted",
    415: "not-supported",
    429: "throttled",
}


class FhirError(Exception):
    """A FHIR answer other than success: HTTP status, issue code, diagnostics, the parameter at fault."""

    def __init__(self, status: int, diagnostics: str, *, code: str = "", expression: str = "") -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.code = code or ISSUE_CODES.get(status, "processing")
        self.expression = expression


def outcome_json(
    status: int, diagnostics: str, *, code: str = "", expression: str = "", severity: str = "error"
) -> JsonResponse:
    """An OperationOutcome response; ``expression`` names the search parameter at fault, if any."""
    body = operation_outcome(
        diagnostics,
        code=code or ISSUE_CODES.get(status, "processing"),
        severity=severity,
        expression=[expression] if expression else None,
    )
    return JsonResponse(body, status=status, content_type=FHIR_JSON)


def _detail(detail: Any) -> str:
    if isinstance(detail, dict):
        return "; ".join(_detail(value) for value in detail.values())
    if isinstance(detail, list):
        return "; ".join(_detail(value) for value in detail)
    return str(detail)


def fhir_exception_handler(exc: Exception, context: dict[str, Any]) -> JsonResponse:
    """DRF exception handler for the FHIR views: every exception becomes an OperationOutcome."""
    if isinstance(exc, FhirError):
        return outcome_json(exc.status, exc.diagnostics, code=exc.code, expression=exc.expression)
    if isinstance(exc, Http404):
        return outcome_json(404, "Not found.")
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        status = exc.status_code
        if isinstance(exc, exceptions.NotAuthenticated):
            text = "Authentication required: send Authorization: Token <key> (see CapabilityStatement.rest.security)."
        elif isinstance(exc, exceptions.PermissionDenied):
            text = "You do not have permission to read the FHIR API (ehr.read_fhir_api)."
        else:
            text = _detail(exc.detail)
        response = outcome_json(status, text)
        if auth_header := getattr(exc, "auth_header", None):
            response["WWW-Authenticate"] = auth_header
        if isinstance(exc, exceptions.Throttled) and (wait := getattr(exc, "wait", None)):
            response["Retry-After"] = str(int(wait))
        return response
    view = type(context.get("view")).__name__
    if isinstance(exc, DatabaseError):
        # The class only: a database message may quote values, and values may identify a patient.
        logger.error("FHIR API %s: database unavailable (%s)", view, type(exc).__name__)
        response = outcome_json(503, "The store is unavailable; retry later.", code="transient")
        response["Retry-After"] = "30"
        return response
    logger.error("FHIR API %s: unexpected %s", view, type(exc).__name__, exc_info=exc)
    return outcome_json(500, "Internal error; it has been logged.", code="exception")
