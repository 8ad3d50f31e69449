"""Referral reads for the worklist, the item page and the API: always scoped to the user's
sites, with a fixed number of queries per page whatever its size."""

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from apps.core.models import User
from apps.core.scoping import scope_to_sites, site_ids_for
from apps.core.sql_relations import sql_relation
from apps.ehr.models import Appointment, DocumentReference, InboxMessage, Practitioner
from apps.workflow.models import Note
from apps.workflow.selectors import (
    Page,
    patient_reference,
    patients_attach,
    store_id,
    timeline,
    worklist_page,
)
from apps.workflow.sla import SUPERVISOR_QUEUE

from .models import Referral, ReferralRoute, SlotOffer
from .services import EXCEPTIONS_QUEUE
from .workflow import QUEUE_LABELS

WORKFLOW = Referral.WORKFLOW
PAGE_SIZE = 50
QUEUES: list[tuple[str, str]] = [
    *QUEUE_LABELS.items(),
    (EXCEPTIONS_QUEUE, "Exceptions"),
    (SUPERVISOR_QUEUE, "Supervisor"),
]
QUEUE_LABELS = dict(QUEUES)


def queue_label(queue: str) -> str:
    return QUEUE_LABELS.get(queue, queue.replace("_", " ").capitalize())


def referral_worklist(
    *, user: Any, filters: dict[str, Any], sort: str = "priority", cursor: str | None = None, limit: int = PAGE_SIZE
) -> Page:
    """One keyset page of the user's open referrals, with their patients (one extra query)."""
    page = worklist_page(
        model=Referral,
        user=user,
        filters=filters,
        sort=sort,
        cursor=cursor,
        limit=limit,
        select_related=("site", "assignee", "service_line"),
    )
    patients_attach(page.items, user=user)
    return page


def referral_get(*, user: Any, referral_id: int) -> Referral:
    """One referral at one of the user's sites; any other is 'not found' (its existence is not disclosed)."""
    qs = scope_to_sites(Referral.objects.all(), user).select_related(
        "site", "assignee", "service_line", "source", "service_request"
    )
    referral = qs.filter(pk=referral_id).first()
    if referral is None:
        raise Http404("No such referral.")
    return referral


def referral_documents(*, referral: Referral) -> QuerySet[DocumentReference]:
    """The patient's documents in the store (same source), newest first."""
    if not referral.patient_ref:
        return DocumentReference.objects.none()
    return (
        DocumentReference.objects.filter(
            source_id=referral.source_id, subject_ref=patient_reference(referral.patient_ref)
        )
        .exclude(deleted=True)
        .only("id", "fhir_id", "status", "doc_status", "type_display", "type", "date", "description", "author_ref")
        .order_by("-date", "-id")
    )


def referral_requester_name(*, referral: Referral) -> str:
    """The requesting practitioner's name from the store, or ``""`` when not there."""
    fhir_id = store_id(referral.requester_ref, "Practitioner")
    if not fhir_id:
        return ""
    practitioner = Practitioner.objects.filter(source_id=referral.source_id, fhir_id=fhir_id).first()
    if practitioner is None:
        return ""
    return " ".join(part for part in (practitioner.given, practitioner.family) if part)


def referral_ehr_events(*, referral: Referral) -> list[dict[str, Any]]:
    """Inbox messages about this referral's ServiceRequest, Task and Appointments (no payloads)."""
    sr_id = referral.service_request.fhir_id
    appointment_ids = set(
        Appointment.objects.filter(source_id=referral.source_id, based_on_ref=f"ServiceRequest/{sr_id}").values_list(
            "fhir_id", flat=True
        )
    )
    if appointment_id := store_id(referral.appointment_ref, "Appointment"):
        appointment_ids.add(appointment_id)
    condition = Q(resource_type="ServiceRequest", resource_id=sr_id)
    if task_id := store_id(referral.task_ref, "Task"):
        condition |= Q(resource_type="Task", resource_id=task_id)
    if appointment_ids:
        condition |= Q(resource_type="Appointment", resource_id__in=sorted(appointment_ids))
    messages = (
        InboxMessage.objects.filter(condition, source_id=referral.source_id)
        .only(
            "id", "resource_type", "resource_id", "version_id", "operation", "status", "outcome", "received_at",
            "ehr_last_updated",
        )
        .order_by("received_at", "id")
    )  # fmt: skip
    return [{"at": m.received_at, "kind": "ehr", "message": m} for m in messages]


def referral_timeline(*, referral: Referral) -> list[dict[str, Any]]:
    """Transitions, notes and EHR events of a referral, newest first."""
    return list(reversed(timeline(item=referral, extra=referral_ehr_events(referral=referral))))


def referral_notes(*, referral: Referral) -> QuerySet[Note]:
    return Note.objects.filter(workflow=WORKFLOW, item_id=referral.pk).select_related("author")


def referral_workers(*, user: Any) -> QuerySet[User]:
    """Active people who work referrals at the user's sites (assignee filter, bulk assign)."""
    holds = Q(groups__permissions__codename="work_referrals", groups__permissions__content_type__app_label="core")
    return (
        User.objects.filter(holds, is_active=True, sites__in=site_ids_for(user))
        .distinct()
        .only("id", "username", "first_name", "last_name")
        .order_by("first_name", "last_name", "username")
    )


def claim_conflict_message(*, referral_id: int) -> str:
    """The message for a lost claim: who holds the referral now, and since when (the site's time)."""
    referral = Referral.objects.select_related("assignee", "site").filter(pk=referral_id).first()
    if referral is None or referral.assignee is None:
        return "Someone else changed this referral just now; reload to see who has it."
    claimed: datetime = referral.claimed_at or timezone.now()
    return f"Already claimed by {referral.assignee} at {timezone.localtime(claimed, referral.site.tzinfo):%H:%M}."


# --- for SQL readers (kpis) -----------------------------------------------------------

# Referrals as an SQL relation (``JOIN {REFERRAL_FACTS_SQL} r``; apps.core.sql_relations), one row
# per referral: ``id`` (the ``item_id`` of its transition-log rows), ``outreach_attempts``
# (patient contact attempts recorded so far) and ``entered_by_hand`` (boolean: a fax or phone
# referral entered by staff, not received from the EHR; scorecards may keep them apart).
# scheduled_at: when the EHR's appointment was booked; confirmed_at: when the patient said they
# will come (the "time to appointment confirmation" measure: confirmed_at - opened_at, or - scheduled_at).
# duplicate_of_id: the referral this one possibly duplicates (NULL: none), as found on arrival.
REFERRAL_FACTS_SQL = sql_relation(
    Referral, id="id", outreach_attempts="outreach_attempts", entered_by_hand="entered_by_hand",
    opened_at="opened_at", scheduled_at="scheduled_at", confirmed_at="confirmed_at",
    duplicate_of_id="possible_duplicate_of",
)  # fmt: skip

# Earlier-slot offers for the scorecard (offers made and accepted, days sooner per accepted offer):
# days sooner = current_start - slot_start of the accepted ones.
SLOT_OFFERS_SQL = sql_relation(
    SlotOffer, id="id", referral_id="referral", site_id="site", status="status", offered_at="offered_at",
    decided_at="decided_at", slot_start="slot_start", current_start="current_start",
)  # fmt: skip
# The referral behind each offer, for the scorecard's filters and drill-down (service line, by hand).
OFFER_REFERRALS_SQL = sql_relation(
    Referral, id="id", patient_ref="patient_ref", service_line_id="service_line", entered_by_hand="entered_by_hand"
)


# --- for go-live readiness (apps.governance) ---------------------------------------------


def referral_sources_for_site(*, site_id: int) -> set[int]:
    """The EHR sources whose referral routes send to the site."""
    return set(ReferralRoute.objects.filter(site_id=site_id).values_list("source_id", flat=True))


def specialties_uncovered(*, site_id: int, service_line_id: int | None, since: datetime) -> list[tuple[str, str]]:
    """(code, display) of the specialties (canonical codes, or as the EHR sent them when unknown) of
    referrals opened at the site since ``since`` that no route to the site names; a route with no
    specialty (a source's default) covers every one."""
    routes = ReferralRoute.objects.filter(site_id=site_id)
    if routes.filter(specialty="").exists():
        return []
    seen = Referral.objects.filter(site_id=site_id, opened_at__gte=since)
    if service_line_id:
        seen = seen.filter(service_line_id=service_line_id)
    named = set(routes.values_list("specialty", flat=True))
    found: dict[str, str] = {}
    for canonical, sent, display in seen.values_list("canonical_specialty", "specialty", "specialty_display"):
        code = canonical or sent
        if code and code not in named:
            found.setdefault(code, display)
    return sorted(found.items())
