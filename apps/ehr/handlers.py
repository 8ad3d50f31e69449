"""Workflow apps register what should happen when a resource changes; ``ehr`` calls them
after the store upsert, inside the same transaction, and never imports them.

    # in referrals/apps.py ready():
    from apps.ehr.handlers import handler_register, batch_handler_register
    handler_register("Slot", referral_on_slot)                    # one change at a time
    batch_handler_register("ServiceRequest", referrals_on_service_requests)  # a batch at a time

A handler gets a ``ResourceChange``; a batch handler gets the changes of one type that follow
each other in a batch, in version order per resource, and does set-based work (bulk lookups,
one pass). Either raises to fail the message: a batch handler raises ``ChangeFailed`` naming
the change it could not take (``changes_each`` does it for a loop), and the pipeline runs the
batch again without that message; anything else fails the batch, whose messages are then
applied one by one. The message is retried and, after the last attempt, dead-lettered. A
handler must be idempotent, since a message may be processed again after a failure. Handlers
may be registered for types the store does not keep (e.g. QuestionnaireResponse): they are
validated and handed over without being stored.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
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
BatchHandler = Callable[[list[ResourceChange]], None]


class ChangeFailed(Exception):
    """A batch handler could not take one change (the cause is chained): that message fails alone."""

    def __init__(self, message_id: int) -> None:
        super().__init__(message_id)
        self.message_id = message_id


def changes_each(changes: Iterable[ResourceChange], handler: Handler) -> None:
    """Call ``handler`` on each change in order; a failure is that change's own (``ChangeFailed``)."""
    for change in changes:
        try:
            handler(change)
        except ChangeFailed:
            raise
        except Exception as exc:
            raise ChangeFailed(change.message_id) from exc


@dataclass(frozen=True)
class _OneByOne:
    """A per-change handler seen as a batch handler (equal to another wrapping the same one)."""

    handler: Handler

    def __call__(self, changes: list[ResourceChange]) -> None:
        changes_each(changes, self.handler)


_handlers: dict[str, list[BatchHandler]] = defaultdict(list)


def batch_handler_register(resource_type: str, handler: BatchHandler) -> None:
    """Call ``handler`` with the new, updated or deleted resources of ``resource_type``, a batch at a time."""
    if handler not in _handlers[resource_type]:
        _handlers[resource_type].append(handler)


def handler_register(resource_type: str, handler: Handler) -> None:
    """Call ``handler`` for every new, updated or deleted resource of ``resource_type``."""
    batch_handler_register(resource_type, _OneByOne(handler))


def handlers_for(resource_type: str) -> list[BatchHandler]:
    """The batch handlers of ``resource_type`` (a per-change handler is wrapped as one)."""
    return list(_handlers.get(resource_type, ()))


def handler_unregister(resource_type: str, handler: Handler | BatchHandler) -> None:
    """For tests."""
    for registered in (handler, _OneByOne(handler)):  # type: ignore[arg-type]
        if registered in _handlers.get(resource_type, []):
            _handlers[resource_type].remove(registered)
