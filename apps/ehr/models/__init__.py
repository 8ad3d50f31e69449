from .messages import InboxEnvelope, InboxMessage, OutboxMessage
from .sources import EhrSource, PollCursor
from .store import (
    STORE_MODELS,
    Appointment,
    DiagnosticReport,
    DocumentReference,
    Encounter,
    FhirResource,
    Location,
    Observation,
    Organization,
    Patient,
    Practitioner,
    PractitionerRole,
    ServiceRequest,
    Task,
)
from .v2 import Hl7Message

__all__ = [
    "STORE_MODELS",
    "Appointment",
    "DiagnosticReport",
    "DocumentReference",
    "EhrSource",
    "Encounter",
    "FhirResource",
    "Hl7Message",
    "InboxEnvelope",
    "InboxMessage",
    "Location",
    "Observation",
    "Organization",
    "OutboxMessage",
    "Patient",
    "PollCursor",
    "Practitioner",
    "PractitionerRole",
    "ServiceRequest",
    "Task",
]
