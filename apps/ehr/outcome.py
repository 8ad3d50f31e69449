"""Re-exports ``apps.core.fhir_outcome``: the OperationOutcome builder lives in core so that
terminology (a layer below ehr) answers its FHIR routes the same way."""

from apps.core.fhir_outcome import FHIR_JSON, operation_outcome, outcome_response

__all__ = ["FHIR_JSON", "operation_outcome", "outcome_response"]
