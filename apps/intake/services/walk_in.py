"""A walk-in: a patient who comes without an appointment in the EHR is added to the intake day by
the front desk. It becomes an Appointment in the local store (type WALKIN, tagged as entered by
hand) and an intake like any other — the walk-in checklist, the day view, check-in — marked
``entered_by_hand``. Its checklist cannot be done before the visit day, so it is due by the end
of that day instead of its start (the SLA sweep would otherwise escalate it the moment it exists)."""

from datetime import datetime, timedelta
from typing import cast

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from apps.core.errors import ApplicationError
from apps.core.models import Site, User
from apps.core.scoping import site_ids_for
from apps.ehr.models import Appointment, Patient
from apps.workflow.entry import item_enter, local_resource_store

from ..models import Intake
from .ehr import APPOINTMENT_TYPE_SYSTEM
from .visit import checklist_sync, schedule_visit, visit_day_start

WALK_IN = "WALKIN"  # v2-0276: "A previously unscheduled walk-in visit"
WALK_IN_DISPLAY = "Walk-in"
VISIT_MINUTES = 30


@transaction.atomic
def intake_walk_in(*, patient: Patient, site: Site, start: datetime, by: User) -> Intake:
    """Add a walk-in visit today at one of the MA's sites: a pending intake with the walk-in checklist,
    due by the end of the day, logged as the MA's."""
    if not by.has_perm(Intake.WORK_PERMISSION):
        raise PermissionDenied("Only medical assistants and supervisors add walk-ins.")
    if site.pk not in site_ids_for(by):
        raise PermissionDenied("This site is not one of yours.")
    today = timezone.localtime(timezone.now(), site.tzinfo).date()
    if timezone.localtime(start, site.tzinfo).date() != today:
        raise ApplicationError("A walk-in is added for today; book other days in the EHR.", code="not_today")
    appointment = cast(
        Appointment,
        local_resource_store(
            source_id=patient.source_id,
            resource_type="Appointment",
            body={
                "status": "booked",
                "appointmentType": {
                    "coding": [{"system": APPOINTMENT_TYPE_SYSTEM, "code": WALK_IN, "display": WALK_IN_DISPLAY}],
                    "text": WALK_IN_DISPLAY,
                },
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=VISIT_MINUTES)).isoformat(),
                "participant": [{"actor": {"reference": patient.reference}, "status": "accepted"}],
                "comment": "Walk-in added at the front desk in clinops",
            },
        ),
    )
    intake = Intake(
        source_id=patient.source_id,
        appointment=appointment,
        appointment_version=appointment.version_id,
        site=site,
        queue="intake",
        patient_ref=patient.reference,
        appointment_type=WALK_IN,
        appointment_type_display=WALK_IN_DISPLAY,
        entered_by_hand=True,
    )
    schedule_visit(intake, start)
    intake.warn_at = start
    intake.due_at = visit_day_start(site, intake.visit_date + timedelta(days=1))
    intake.save()
    checklist_sync(intake)
    item_enter(intake, by=by, transition="entered_by_hand", reason="Walk-in added at the front desk")
    return intake
