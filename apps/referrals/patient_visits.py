"""A scheduled referral's appointment as a visit patients are reminded of (apps.notifications):
the patient's confirm and cancel from a reminder's link go through the same transitions as the
scheduler's buttons, by the patient (on the referral's timeline). The cancellation's message to the
EHR is written by notifications, which then frees the slot for the wait list through ingestion."""

from datetime import datetime

from apps.ehr.models import Appointment
from apps.notifications.visits import Visit, VisitClosed, VisitProvider
from apps.workflow.models import TransitionSource
from apps.workflow.transitions import item_lock, transition_apply

from .models import Referral
from .workflow import HAS_APPOINTMENT, State

PATIENT = TransitionSource.PATIENT


def _visit(referral: Referral, start: datetime) -> Visit:
    return Visit(
        workflow=Referral.WORKFLOW, item_id=referral.pk, site_id=referral.site_id, source_id=referral.source_id,
        patient_ref=referral.patient_ref, start=start, appointment_ref=referral.appointment_ref,
        open=referral.state in HAS_APPOINTMENT,
    )  # fmt: skip


def referral_visits_upcoming(after: datetime, until: datetime) -> list[Visit]:
    """Scheduled or confirmed referrals whose booked appointment starts in (after, until]."""
    starts = {
        (source_id, f"Appointment/{fhir_id}"): start
        for source_id, fhir_id, start in Appointment.objects.filter(
            start__gt=after, start__lte=until, status="booked", deleted=False
        ).values_list("source_id", "fhir_id", "start")
    }
    if not starts:
        return []
    referrals = Referral.objects.filter(
        state__in=HAS_APPOINTMENT, entered_by_hand=False, appointment_ref__in={ref for _, ref in starts}
    )
    found = [(r, starts.get((r.source_id, r.appointment_ref))) for r in referrals]
    return [_visit(r, start) for r, start in found if start is not None]


def referral_visit_get(referral_id: int) -> Visit | None:
    """The referral's appointment as a visit (closed once it has no appointment any more)."""
    referral = Referral.objects.filter(pk=referral_id).first()
    if referral is None:
        return None
    fhir_id = referral.appointment_ref.partition("/")[2]
    row = Appointment.objects.filter(source_id=referral.source_id, fhir_id=fhir_id).only("start").first()
    if row is None or row.start is None:
        return None
    return _visit(referral, row.start)


def referral_confirm_by_patient(referral_id: int) -> Visit:
    """The patient will come: "Patient confirmed" (a second confirmation changes nothing)."""
    referral = item_lock(Referral.WORKFLOW, referral_id)
    visit = referral_visit_get(referral_id)
    if visit is None or referral.state not in HAS_APPOINTMENT:
        raise VisitClosed(referral.site_id)
    if referral.state == State.SCHEDULED:
        transition_apply(referral, "confirm", source=PATIENT, reason="The patient confirmed online (reminder link)")
    return visit


def referral_cancel_by_patient(referral_id: int) -> Visit:
    """The patient cancels: back to scheduling, as when a scheduler cancels the appointment."""
    referral = item_lock(Referral.WORKFLOW, referral_id)
    visit = referral_visit_get(referral_id)
    if visit is None or referral.state not in HAS_APPOINTMENT:
        raise VisitClosed(referral.site_id)
    transition_apply(
        referral, "cancel_appointment", source=PATIENT, reason="The patient cancelled online (reminder link)"
    )
    return visit


REFERRAL_VISITS = VisitProvider(
    workflow=Referral.WORKFLOW, upcoming=referral_visits_upcoming, get=referral_visit_get,
    confirm=referral_confirm_by_patient, cancel=referral_cancel_by_patient,
)  # fmt: skip
