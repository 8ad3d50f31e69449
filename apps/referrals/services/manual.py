"""A referral that arrived by fax or phone, entered by a scheduler: it becomes a ServiceRequest in
the local store (tagged as entered by hand) and a referral that runs the same workflow as one from
the EHR — triage queue, SLA clock, duplicate check, log — marked ``entered_by_hand``. The faxed PDF
is kept with it (``ReferralAttachment``), checked for size and type first."""

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from apps.core.errors import ApplicationError
from apps.core.models import ServiceLine, Site, User
from apps.core.scoping import site_ids_for
from apps.ehr.models import Patient, ServiceRequest
from apps.workflow.entry import item_enter, local_resource_store
from apps.workflow.models import Priority
from apps.workflow.sla import sla_start

from ..models import Referral, ReferralAttachment
from ..routing import SPECIALTY_SYSTEM

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
PDF_MAGIC = b"%PDF-"
DUPLICATE_WINDOW = timedelta(days=30)
CHANNELS = {"fax": "fax", "phone": "phone call"}
REFERRAL_CATEGORY = {"system": "http://snomed.info/sct", "code": "3457005", "display": "Patient referral"}


@dataclass(frozen=True)
class Upload:
    """A file as the person sent it: the name they gave it and its bytes."""

    filename: str
    data: bytes


def attachment_check(*, filename: str, size: int, head: bytes) -> None:
    """Refuse what is not a PDF of at most ``MAX_ATTACHMENT_BYTES`` (checked on the bytes, not the
    name or the browser's content type, which the sender controls)."""
    if size > MAX_ATTACHMENT_BYTES:
        raise ApplicationError(
            f"The file is {size / 1024 / 1024:.1f} MB; attach at most {MAX_ATTACHMENT_BYTES // 1024 // 1024} MB.",
            code="attachment_too_large",
        )
    if size == 0:
        raise ApplicationError("The file is empty; scan the fax again.", code="attachment_empty")
    if not head.startswith(PDF_MAGIC) or not filename.lower().endswith(".pdf"):
        raise ApplicationError("Attach the referral as a PDF file.", code="attachment_not_pdf")


@transaction.atomic
def referral_enter(
    *,
    patient: Patient,
    site: Site,
    service_line: ServiceLine,
    reason: str,
    priority: str,
    channel: str,
    by: User,
    attachment: Upload | None = None,
) -> Referral:
    """Enter a fax or phone referral for a store patient at one of the scheduler's sites: triage queue,
    SLA started, flagged when the patient has an open referral for the same specialty, logged as the
    scheduler's. Nothing is sent to the EHR (there is no referrer's Task to update)."""
    if not by.has_perm(Referral.WORK_PERMISSION):
        raise PermissionDenied("Only schedulers and supervisors enter referrals.")
    if site.pk not in site_ids_for(by):
        raise PermissionDenied("This site is not one of yours.")
    if not site.service_lines.filter(pk=service_line.pk).exists():
        raise ApplicationError(f"{site} has no {service_line} service.", code="unknown_service_line")
    if priority not in Priority.values:
        raise ApplicationError("Choose a priority.", code="invalid_priority")
    if channel not in CHANNELS:
        raise ApplicationError("Say whether it came by fax or by phone.", code="invalid_channel")
    reason = " ".join(reason.split())[:300]
    if not reason:
        raise ApplicationError("Say what the referral is for.", code="reason_required")
    if attachment is not None:
        attachment_check(filename=attachment.filename, size=len(attachment.data), head=attachment.data[:8])

    record = _service_request(patient=patient, service_line=service_line, reason=reason, priority=priority,
                              channel=channel)  # fmt: skip
    referral = Referral(
        source_id=patient.source_id,
        service_request=record,
        site=site,
        service_line=service_line,
        queue="triage",
        canonical_specialty=service_line.code,
        patient_ref=patient.reference,
        specialty=f"{SPECIALTY_SYSTEM}|{service_line.code}",
        specialty_display=service_line.name[:300],
        reason=reason,
        entered_by_hand=True,
    )
    referral.set_priority(priority)
    sla_start(referral)
    referral.possible_duplicate_of = (
        Referral.objects.filter(
            patient_ref=patient.reference, source_id=patient.source_id, canonical_specialty=service_line.code,
            is_open=True, opened_at__gte=timezone.now() - DUPLICATE_WINDOW,
        ).order_by("opened_at").first()
    )  # fmt: skip
    item_enter(referral, by=by, transition="entered_by_hand", reason=f"Came by {CHANNELS[channel]}")
    if attachment is not None:
        ReferralAttachment.objects.create(
            referral=referral,
            filename=attachment.filename[-200:],
            content_type="application/pdf",
            size=len(attachment.data),
            sha256=hashlib.sha256(attachment.data).hexdigest(),
            data=attachment.data,
            uploaded_by=by,
        )
    return referral


def _service_request(
    *, patient: Patient, service_line: ServiceLine, reason: str, priority: str, channel: str
) -> ServiceRequest:
    body = {
        "status": "active",
        "intent": "order",
        "priority": priority,
        "category": [{"coding": [REFERRAL_CATEGORY]}],
        "code": {
            "coding": [{"system": SPECIALTY_SYSTEM, "code": service_line.code, "display": service_line.name}],
            "text": f"Referral to {service_line.name}",
        },
        "subject": {"reference": patient.reference},
        "reasonCode": [{"text": reason}],
        "authoredOn": timezone.now().isoformat(),
        "note": [{"text": f"Received by {CHANNELS[channel]}; entered by hand in clinops"}],
    }
    return cast(ServiceRequest, local_resource_store(source_id=patient.source_id, resource_type="ServiceRequest",
                                                     body=body))  # fmt: skip
