"""Workflow apps register what should happen when a resource changes; ``ehr`` calls them
after the store upsert, inside the same transaction, and never imports them.

    # in referrals/apps.py ready():
    from apps.ehr.handlers import handler_register
    handler_register("ServiceRequest", referral_on_service_request)

A handler gets a ``ResourceChange``. It raises to fail the message (which is retried and,
after the last attempt, dead-lettered); it must be idempotent, since a message may be
processed again after a failure. Handlers may be registered for types the store does not
keep (e.g. QuestionnaireResponse): they are validated and handed over without being stored.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .models import FhirResource


@dataclass(frozen=True)
class ResourceChange:
    source_id: int
    resource_type: str
    resource_id: str
    outcome: str  # new | updated | deleted (unchanged resources are not handed over)
    resource: dict[str, Any]  # the FHIR JSON (a tombstone {resourceType, id} for a delete)
    record: FhirResource | None  # the store row, when the type is stored
    message_id: int
    correlation_id: str


Handler = Callable[[ResourceChange], None]
_handlers: dict[str, list[Handler]] = defaultdict(list)


def handler_register(resource_type: str, handler: Handler) -> None:
    """Call ``handler`` for every new, updated or deleted resource of ``resource_type``."""
    if handler not in _handlers[resource_type]:
        _handlers[resource_type].append(handler)


def handlers_for(resource_type: str) -> list[Handler]:
    return list(_handlers.get(resource_type, ()))


def handler_unregister(resource_type: str, handler: Handler) -> None:
    """For tests."""
    if handler in _handlers.get(resource_type, []):
        _handlers[resource_type].remove(handler)
