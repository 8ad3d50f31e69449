"""FHIR OperationOutcome answers: every error on a FHIR route (ehr, terminology) is one, never a 500 page."""

from typing import Any

from django.http import JsonResponse

FHIR_JSON = "application/fhir+json"


def operation_outcome(
    diagnostics: str, *, code: str = "invalid", severity: str = "error", expression: list[str] | None = None
) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = expression
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def outcome_response(
    status: int, diagnostics: str, *, code: str = "invalid", severity: str = "error", **headers: str
) -> JsonResponse:
    """An OperationOutcome as an ``application/fhir+json`` response with ``status``."""
    response = JsonResponse(
        operation_outcome(diagnostics, code=code, severity=severity), status=status, content_type=FHIR_JSON
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response
