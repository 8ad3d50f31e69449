"""The CapabilityStatement served at ``/fhir/metadata``: what this read API does, per store type."""

from typing import Any

from ..models import STORE_MODELS
from .search import DEFAULT_COUNT, MAX_COUNT, search_params, store_model

SOFTWARE_VERSION = "0.1.0"
# The date this statement last changed in substance (CapabilityStatement.date).
STATEMENT_DATE = "2026-01-15"

SECURITY = (
    "Send an API key: 'Authorization: Token <key>' (or 'Bearer <key>'); a user makes one on the account's "
    "API keys page (/account/api-keys/), after a code for roles that require MFA; keys expire. A signed-in "
    "browser session also works. The user needs "
    "the ehr.read_fhir_api permission (the Integration admin role): anonymous calls get 401, others 403. "
    "The store is not site-scoped: the permission reads every resource. Each resource returned that "
    "belongs to a patient is access-logged."
)

DOCUMENTATION = (
    "Read-only view of the clinops local store. Search results are ordered by meta.lastUpdated, then row, "
    f"and paged by keyset (_count default {DEFAULT_COUNT}, at most {MAX_COUNT}; follow Bundle.link next and "
    "previous; _summary=count or _count=0 answers the total only; _total=none skips it). "
    "Handling is strict: an unknown parameter, a modifier or an empty value is a 400 OperationOutcome naming "
    "it, unless the request sends 'Prefer: handling=lenient', which ignores it and reports it in an "
    "OperationOutcome entry. When two EHR sources hold the same id, the most recently updated copy is the "
    "resource, for read and search alike. Deleted resources are left out of searches; reading one is 410 Gone. "
    "Every other R4 resource type the EHR sends is kept too and served the same way (_id, _lastUpdated, "
    "patient/subject, status, _count, _summary=count)."
)


# Kept in the generic store like every other R4 type; listed because EHR feeds send them most.
GENERIC_LISTED = (
    "AllergyIntolerance", "CarePlan", "Claim", "Condition", "Coverage", "Immunization", "MedicationRequest",
    "Procedure", "QuestionnaireResponse",
)  # fmt: skip


def _resource(resource_type: str) -> dict[str, Any]:
    model = store_model(resource_type)
    return {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "versioning": "versioned",
        "readHistory": False,
        "updateCreate": False,
        "conditionalCreate": False,
        "conditionalRead": "not-supported",
        "conditionalUpdate": False,
        "conditionalDelete": "not-supported",
        "searchParam": [
            {"name": name, "type": kind, "documentation": documentation}
            for name, (kind, documentation) in search_params(model).items()
        ],
    }


def capability_statement(*, base_url: str) -> dict[str, Any]:
    """The server's CapabilityStatement (FHIR 4.0.1, JSON, read and search-type on every store type)."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": STATEMENT_DATE,
        "publisher": "clinops",
        "kind": "instance",
        "software": {"name": "clinops", "version": SOFTWARE_VERSION},
        "implementation": {"description": "clinops local FHIR store (read-only)", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "documentation": DOCUMENTATION,
                "security": {"cors": False, "description": SECURITY},
                "resource": [_resource(resource_type) for resource_type in [*STORE_MODELS, *GENERIC_LISTED]],
            }
        ],
    }
