"""What a patient does with a link, without signing in: one function per use case.

    patient_page_open           — what a link's page may show (first name, date, clinic), or why not
    patient_visit_confirm       — spend a confirm link: the visit is confirmed (the workflow's service)
    patient_visit_cancel        — spend a cancel link: the item is cancelled, the EHR is told through
                                  the outbox (Appointment cancelled), and once it has answered the
                                  slot is freed through the normal ingestion path (the wait list)
    patient_questionnaire_submit — check the answers; spend the link; a QuestionnaireResponse goes to
                                  the EHR through the outbox and the checklist line is ticked
    patient_opt_out_by_link     — spend a stop link: no more messages on that channel
    patient_opt_out_set         — staff set or lift an opt-out on the patient page

Spending the link and its effect are one transaction: a visit that can no longer be changed
(``VisitClosed``) leaves the link unspent and the page says so with the clinic's number.
"""

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import QueryDict
from django.utils import timezone

from apps.core.models import User
from apps.ehr.client import FhirClientError, client_for
from apps.ehr.models import EhrSource, InboxMessage, OutboxMessage
from apps.ehr.services.outbox import outbox_enqueue
from apps.workflow.models import TransitionSource
from apps.workflow.registry import workflow_model
from apps.workflow.transitions import transition_record

from .clinic import Clinic, clinic_of, patient_first_name, when
from .links import LinkNotFound, patient_link_open, patient_link_use
from .models import PatientChannel, PatientLink, PatientOptOut
from .questionnaire import Question, answers_check, questionnaire_for, questionnaire_response_build, questions
from .visits import Visit, VisitClosed, VisitProvider, visit_provider

logger = logging.getLogger(__name__)
Purpose = PatientLink.Purpose
CANCEL_KEY = "patient-cancel:"
STOP_CHANNEL: dict[str, str] = {Purpose.STOP_EMAIL: PatientChannel.EMAIL, Purpose.STOP_SMS: PatientChannel.SMS}
CHANNEL_NOUN: dict[str, str] = {PatientChannel.EMAIL: "reminder emails", PatientChannel.SMS: "reminder texts"}


@dataclass(frozen=True)
class LinkPage:
    """All a patient page shows: the first name, the visit's date and time, the clinic."""

    link: PatientLink
    visit: Visit
    clinic: Clinic
    first_name: str
    when: str


def _provider(link: PatientLink) -> VisitProvider:
    provider = visit_provider(link.workflow)
    if provider is None:
        raise LinkNotFound
    return provider


def _page(link: PatientLink, visit: Visit) -> LinkPage:
    clinic = clinic_of(visit.site_id)
    first = patient_first_name(visit.source_id, visit.patient_ref)
    return LinkPage(link=link, visit=visit, clinic=clinic, first_name=first, when=when(clinic, visit.start))


def _visit(link: PatientLink, *, open_only: bool) -> Visit:
    visit = _provider(link).get(link.item_id)
    if visit is None:
        raise LinkNotFound
    if open_only and (not visit.open or visit.start <= timezone.now()):
        raise VisitClosed(visit.site_id)
    return visit


def patient_page_open(*, token: str, purpose: str) -> LinkPage:
    """The page a link opens (raises LinkNotFound, LinkGone, or VisitClosed with the site id)."""
    link = patient_link_open(token=token, purpose=purpose)
    visit = _visit(link, open_only=purpose not in STOP_CHANNEL)
    if purpose == Purpose.QUESTIONNAIRE and not visit.questionnaire_open:
        raise VisitClosed(visit.site_id)
    return _page(link, visit)


@transaction.atomic
def patient_visit_confirm(*, token: str) -> LinkPage:
    """The patient will come: the workflow's confirmed state (on the item's timeline)."""
    link = patient_link_use(token=token, purpose=Purpose.CONFIRM)
    visit = _visit(link, open_only=True)
    _provider(link).confirm(link.item_id)
    return _page(link, visit)


@transaction.atomic
def patient_visit_cancel(*, token: str) -> LinkPage:
    """The patient cancels: the item's state (the workflow's service) and the EHR's Appointment,
    cancelled through the outbox in the same transaction."""
    link = patient_link_use(token=token, purpose=Purpose.CANCEL)
    visit = _visit(link, open_only=True)
    _provider(link).cancel(link.item_id)
    if visit.appointment_ref.startswith("Appointment/"):
        outbox_enqueue(
            source=EhrSource.objects.get(pk=visit.source_id),
            resource_type="Appointment",
            resource_id=visit.appointment_ref.partition("/")[2],
            changes={"status": "cancelled", "cancelationReason": {"text": "Cancelled by the patient online"}},
            dedupe_key=f"{CANCEL_KEY}{visit.workflow}:{visit.item_id}:{visit.appointment_ref}",
        )
    return _page(link, visit)


def patient_cancel_outbox_result(message: OutboxMessage, body: dict[str, Any]) -> None:
    """The EHR took a patient's cancellation (outbox listener): its Appointment, and the Slot it
    held, go through ingestion like any EHR change, so the slot is offered to the wait list now
    rather than when the EHR next says so. The EHR unreachable for the Slot: its own notice will do."""
    if not (message.dedupe_key or "").startswith(CANCEL_KEY) or message.status != OutboxMessage.Status.SENT:
        return
    if body.get("resourceType") != "Appointment" or body.get("status") != "cancelled" or not body.get("id"):
        return
    from apps.ehr.services.inbox import inbox_receive

    source = message.source
    inbox_receive(source=source, body=body, channel=InboxMessage.Channel.POLL)
    slots = [s.get("reference", "") for s in body.get("slot") or [] if isinstance(s, dict)]
    ids = [ref.rsplit("/", 1)[-1] for ref in slots if "Slot/" in ref]
    if not ids or not source.base_url:
        return
    try:
        with client_for(source) as client:
            found = [client.read("Slot", slot_id) for slot_id in ids]
    except FhirClientError as exc:
        logger.info("notifications: slot after a patient's cancellation not read (%s)", type(exc).__name__)
        return
    for slot in found:
        inbox_receive(source=source, body=slot, channel=InboxMessage.Channel.POLL)


def patient_questionnaire_form(*, token: str) -> tuple[LinkPage, list[Question]]:
    """The questionnaire page: the link's visit and the site's questions."""
    page = patient_page_open(token=token, purpose=Purpose.QUESTIONNAIRE)
    return page, questions(questionnaire_for(page.visit.site_id, page.visit.source_id))


def patient_questionnaire_submit(*, token: str, data: QueryDict) -> tuple[LinkPage, list[Question], dict[str, str]]:
    """Check the answers (errors: nothing is spent); else spend the link, send the
    QuestionnaireResponse to the EHR through the outbox and tick the checklist, in one transaction.
    Raises ``AnswersTooLarge`` for hostile input."""
    page, qs = patient_questionnaire_form(token=token)
    answers, errors = answers_check(qs, data)
    if errors:
        return page, qs, errors
    with transaction.atomic():
        link = patient_link_use(token=token, purpose=Purpose.QUESTIONNAIRE)
        visit = _visit(link, open_only=True)
        provider = _provider(link)
        if provider.questionnaire_done is None:
            raise LinkNotFound
        response = questionnaire_response_build(
            questionnaire_for(visit.site_id, visit.source_id), qs, answers, patient_ref=visit.patient_ref,
            authored=timezone.now(), identifier=f"link-{link.pk}",
        )  # fmt: skip
        outbox_enqueue(
            source=EhrSource.objects.get(pk=visit.source_id), resource_type="QuestionnaireResponse", resource_id="",
            operation=OutboxMessage.Operation.CREATE, changes=response, dedupe_key=f"patient-questionnaire:{link.pk}",
        )  # fmt: skip
        provider.questionnaire_done(link.item_id, "Pre-visit form filled online by the patient")
    return page, qs, {}


@transaction.atomic
def patient_opt_out_by_link(*, token: str, purpose: str) -> LinkPage:
    """The patient asks for no more messages on the link's channel (on the item's timeline)."""
    link = patient_link_use(token=token, purpose=purpose)
    visit = _visit(link, open_only=False)
    channel = STOP_CHANNEL[purpose]
    _opt_out_write(visit.source_id, visit.patient_ref, channel, opted_out=True, by=None)
    item = workflow_model(visit.workflow).objects.filter(pk=visit.item_id).first()
    if item is not None:
        transition_record(
            item, transition="patient_opted_out", from_state=item.state, source=TransitionSource.PATIENT,
            reason=f"The patient asked for no more {CHANNEL_NOUN[channel]}",
        )  # fmt: skip
    return _page(link, visit)


def _opt_out_write(source_id: int, patient_ref: str, channel: str, *, opted_out: bool, by: User | None) -> bool:
    rows = PatientOptOut.objects.filter(source_id=source_id, patient_ref=patient_ref, channel=channel)
    if not opted_out:
        return rows.delete()[0] > 0
    if rows.exists():
        return False
    PatientOptOut.objects.create(source_id=source_id, patient_ref=patient_ref, channel=channel, by=by)
    return True


@transaction.atomic
def patient_opt_out_set(*, source_id: int, patient_ref: str, channel: str, opted_out: bool, by: User) -> bool:
    """Staff set (or lift) a patient's opt-out of one channel; True when it changed. The caller
    checked the patient is at one of their sites."""
    if channel not in PatientChannel.values:
        raise ValueError(channel)
    return _opt_out_write(source_id, patient_ref, channel, opted_out=opted_out, by=by)


def patient_opt_outs(*, source_id: int, patient_ref: str) -> set[str]:
    """The channels a patient opted out of."""
    return set(
        PatientOptOut.objects.filter(source_id=source_id, patient_ref=patient_ref).values_list("channel", flat=True)
    )
