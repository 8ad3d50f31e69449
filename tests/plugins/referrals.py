"""Referrals made directly (not through the EHR feed), with the store rows they need: the EHR
source, the ServiceRequest and the Patient. For the EHR path, see ``ehr_feed.py``."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import factory
from django.utils import timezone

from apps.core.roles import Role
from apps.ehr.models import Patient
from apps.referrals.models import Referral
from apps.referrals.workflow import CLOSED, QUEUE_FOR_STATE, State
from apps.workflow.models import PRIORITY_RANK, Outreach, OutreachOutcome, Priority, SavedView
from tests.plugins.core import Factory, ServiceLineFactory, SiteFactory, UserFactory
from tests.plugins.ehr_store import source_make, store_make

SOURCE = "referral-test-ehr"


def patient_make(fhir_id: str, *, source: Any = None, **fields: Any) -> Patient:
    """A store Patient (get or create by source and id) with a name, birth date, gender and MRN."""
    source = source or source_make(SOURCE)
    found = Patient.objects.filter(source=source, fhir_id=fhir_id).first()
    if found is not None:
        return found
    typed = {
        "family": "Doe",
        "given": "Pat",
        "birth_date": date(1961, 3, 12),
        "gender": "female",
        "mrn": f"MRN-{fhir_id}",
    }
    typed.update(fields)
    body = {
        "name": [{"family": typed["family"], "given": [typed["given"]]}],
        "gender": typed["gender"],
        "birthDate": typed["birth_date"].isoformat() if typed["birth_date"] else None,
        "identifier": [{"type": {"text": "MRN"}, "value": typed["mrn"]}],
    }
    return store_make("Patient", fhir_id, source=source, body=body, **typed)


class ReferralFactory(Factory):
    """An open referral at ``site`` (received, in triage, due in three days) and, in the store,
    its ServiceRequest and Patient.

    ``state=...`` sets the state directly, with its queue and open/closed; ``patient=False``
    leaves the Patient out of the store (not received yet); ``patient__family="Rivera"`` etc.
    set the Patient's fields.
    """

    class Meta:
        model = Referral
        skip_postgeneration_save = True

    class Params:
        patient_id = factory.Sequence(lambda n: f"pat-{n}")
        sr_id = factory.Sequence(lambda n: f"sr-{n}")

    site = factory.SubFactory(SiteFactory)
    source = factory.LazyFunction(lambda: source_make(SOURCE))
    state = State.RECEIVED
    queue = factory.LazyAttribute(lambda o: QUEUE_FOR_STATE.get(o.state, "triage"))
    priority = Priority.ROUTINE
    priority_rank = factory.LazyAttribute(lambda o: PRIORITY_RANK[o.priority])
    patient_ref = factory.LazyAttribute(lambda o: f"Patient/{o.patient_id}")
    requester_ref = "Practitioner/dr-ref"
    specialty = "http://snomed.info/sct|394579002"
    specialty_display = "Cardiology"
    reason = "Chest pain on exertion"
    opened_at = factory.LazyFunction(timezone.now)
    due_at = factory.LazyAttribute(lambda o: o.opened_at + timedelta(days=3))
    warn_at = factory.LazyAttribute(lambda o: o.opened_at + timedelta(days=2))
    is_open = factory.LazyAttribute(lambda o: o.state not in CLOSED)
    closed_at = factory.LazyAttribute(lambda o: timezone.now() if o.state in CLOSED else None)
    service_request = factory.LazyAttribute(
        lambda o: store_make(
            "ServiceRequest",
            o.sr_id,
            source=o.source,
            body={"status": "active", "intent": "order", "subject": {"reference": f"Patient/{o.patient_id}"}},
            status="active",
            intent="order",
            priority=o.priority,
            category="http://snomed.info/sct|3457005",
            code_display="Referral to cardiology",
            subject_ref=f"Patient/{o.patient_id}",
            requester_ref="Practitioner/dr-ref",
            reason_display=o.reason,
        )
    )

    @factory.post_generation
    def patient(self, create: bool, extracted: Any, **fields: Any) -> None:
        if not create or extracted is False:
            return
        fields.setdefault("family", f"Family{self.pk}")
        patient_make(self.patient_ref.split("/", 1)[1], source=self.source, **fields)


def outreach_make(referral: Referral, by: Any, *, outcome: str = OutreachOutcome.NO_ANSWER) -> Outreach:
    """A recorded outreach attempt (directly, not through the service)."""
    attempt = Outreach.objects.create(
        workflow=Referral.WORKFLOW, item_id=referral.pk, site_id=referral.site_id, by=by, channel="phone",
        outcome=outcome,
    )  # fmt: skip
    Referral.objects.filter(pk=referral.pk).update(outreach_attempts=referral.outreach_attempts + 1)
    return attempt


# --- the access matrix (tests/access_matrix.py): URL kwargs that make what a URL needs ----


def matrix_referral(*, claimed: bool = False, service_line: bool = False, **fields: Any) -> Any:
    """kwargs(site) → ``{"pk": …}`` of a new referral there (claimed by a colleague, with a
    service line to forward to, or with ``fields``)."""

    def kwargs(site: Any) -> dict[str, Any]:
        extra = dict(fields)
        if claimed:
            extra.update(assignee=UserFactory(role=Role.SCHEDULER, sites=[site]), claimed_at=timezone.now())
        if service_line:
            site.service_lines.add(ServiceLineFactory(code="matrix-line"))
        return {"pk": ReferralFactory(site=site, **extra).pk}

    return kwargs


def matrix_action(action: str, **fields: Any) -> Any:
    """kwargs(site) for the page's ``referrals:act`` URL: a referral and the action name."""
    make = matrix_referral(**fields)
    return lambda site: {**make(site), "action": action}


def matrix_saved_view(site: Any) -> dict[str, Any]:
    """Someone else's saved view: deleting it is 'not found' for everyone."""
    owner = UserFactory(role=Role.SCHEDULER, sites=[site])
    return {"pk": SavedView.objects.create(user=owner, workflow="referral", name="theirs", params={}).pk}


OVERDUE = {"due_at": datetime(2025, 1, 2, tzinfo=UTC), "warn_at": datetime(2025, 1, 1, tzinfo=UTC)}


def matrix_patient(site: Any) -> dict[str, Any]:
    """kwargs(site) → ``{"pk": …}`` of a store Patient who has a referral there (the patient page)."""
    referral = ReferralFactory(site=site)
    return {"pk": Patient.objects.get(source=referral.source, fhir_id=referral.patient_ref.split("/", 1)[1]).pk}


def matrix_attachment(site: Any) -> dict[str, Any]:
    """kwargs(site) → ``{"pk": …, "attachment_pk": …}`` of a referral entered by hand there, with its PDF."""
    from apps.referrals.models import ReferralAttachment

    referral = ReferralFactory(site=site, entered_by_hand=True)
    document = ReferralAttachment.objects.create(
        referral=referral, filename="fax.pdf", content_type="application/pdf", size=9, sha256="0" * 64,
        data=b"%PDF-1.4\n", uploaded_by=UserFactory(role=Role.SCHEDULER, sites=[site]),
    )  # fmt: skip
    return {"pk": referral.pk, "attachment_pk": document.pk}


def matrix_offer(site: Any) -> dict[str, Any]:
    """An open earlier-slot offer to a scheduled referral there (its slot unknown to the store)."""
    from apps.referrals.models import SlotOffer

    referral = ReferralFactory(site=site, state=State.SCHEDULED, appointment_ref="Appointment/matrix")
    now = timezone.now()
    offer = SlotOffer.objects.create(
        referral=referral, site=site, slot_ref=f"Slot/matrix-{referral.pk}", slot_start=now + timedelta(days=1),
        current_start=now + timedelta(days=9), offered_at=now, expires_at=now + timedelta(hours=4),
    )  # fmt: skip
    return {"pk": offer.pk}
