"""The consult note back to the referrer (issue 15): when a referral is completed, the note the
EHR sends for the visit (a DocumentReference whose context is the referral's Encounter) is linked
to the referrer's Task as its output, through the outbox, and shown on the referral's timeline.

Order-safe: a note that arrives before the referral is completed (or before its Encounter) is
picked up from the store at completion; one that arrives after is linked at once. Each note is
linked once (the outbox message's key); each update carries every note linked so far, so a
second note never hides the first.
"""

from django.db.models import Q

from apps.ehr.models import DocumentReference, Encounter, OutboxMessage
from apps.ehr.services.outbox import outbox_enqueue
from apps.workflow.models import TransitionSource
from apps.workflow.transitions import transition_record

from ..models import Referral
from ..workflow import State

LOINC_CONSULT_NOTE = {"system": "http://loinc.org", "code": "11488-4", "display": "Consult note"}
NOT_A_NOTE = ("entered-in-error", "superseded")
KEY = "referral:{pk}:consult-note:{doc}"


def _encounter_refs(referral: Referral) -> list[str]:
    """The referral's encounters in the store: of its appointment, or based on its ServiceRequest."""
    condition = Q(based_on_ref=referral.service_request.reference)
    if referral.appointment_ref:
        condition |= Q(appointment_ref=referral.appointment_ref)
    return [e.reference for e in Encounter.objects.filter(condition, source_id=referral.source_id, deleted=False)]


def _notes(referral: Referral) -> list[DocumentReference]:
    refs = _encounter_refs(referral)
    if not refs:
        return []
    return list(
        DocumentReference.objects.filter(source_id=referral.source_id, encounter_ref__in=refs, deleted=False)
        .exclude(status__in=NOT_A_NOTE)
        .order_by("date", "fhir_id")
    )


def _label(note: DocumentReference) -> str:
    return note.type_display or note.description or "Consult note"


def consult_notes_link(*, referral: Referral, correlation_id: str = "") -> int:
    """Link every note of a completed referral's visit not yet linked (call with the referral
    locked, in the ingestion transaction); returns how many were linked now."""
    if referral.state != State.COMPLETED:
        return 0
    notes = _notes(referral)
    output = [
        {"type": {"coding": [LOINC_CONSULT_NOTE], "text": "Consult note"},
         "valueReference": {"reference": n.reference, "display": _label(n)[:200]}}
        for n in notes
    ]  # fmt: skip
    linked = 0
    for note in notes:
        key = KEY.format(pk=referral.pk, doc=note.fhir_id)
        if OutboxMessage.objects.filter(dedupe_key=key).exists():
            continue
        if referral.task_ref.startswith("Task/"):
            outbox_enqueue(
                source=referral.source, resource_type="Task", resource_id=referral.task_ref.split("/", 1)[1],
                changes={"output": output}, dedupe_key=key, correlation_id=correlation_id,
            )  # fmt: skip
            told = "sent to the referrer with the closed loop"
        else:
            told = "the referrer sent no task to link it to"
        transition_record(
            referral, transition="consult_note", from_state=referral.state, source=TransitionSource.EHR,
            reason=f"{_label(note)} from the EHR for the visit: {told}.", correlation_id=correlation_id,
        )  # fmt: skip
        linked += 1
    return linked


def referral_consult_note_from_ehr(*, source_id: int, encounter_ref: str, correlation_id: str = "") -> Referral | None:
    """A note for an encounter arrived: if the encounter is a completed referral's visit, link it."""
    encounter = Encounter.objects.filter(source_id=source_id, fhir_id=encounter_ref.partition("/")[2]).first()
    if encounter is None:
        return None  # linked at completion, once the Encounter has arrived
    condition = Q(service_request__fhir_id=encounter.based_on_ref.partition("/")[2]) if encounter.based_on_ref else Q()
    if encounter.appointment_ref:
        condition |= Q(appointment_ref=encounter.appointment_ref)
    if not condition:
        return None
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("service_request", "source")
        .filter(condition, source_id=source_id)
        .first()
    )
    if referral is not None:
        consult_notes_link(referral=referral, correlation_id=correlation_id)
    return referral
