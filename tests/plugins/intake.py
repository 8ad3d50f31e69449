"""Intakes made directly (not through the EHR feed), with the store rows they need."""

from datetime import timedelta
from typing import Any

from django.utils import timezone

from apps.core.roles import Role
from apps.intake.models import Intake
from apps.intake.services import checklist_sync, schedule_visit
from tests.plugins.core import UserFactory
from tests.plugins.ehr_store import source_make, store_make
from tests.plugins.referrals import patient_make

SOURCE = "intake-test-ehr"
_seq = iter(range(1, 10**9))


def intake_make(site: Any, *, days: int = 1, hour: int = 10, patient: str | None = None, **fields: Any) -> Intake:
    """An intake at ``site`` for a visit ``days`` from today at ``hour`` (site time), with its
    default checklist and a store Patient named Family<n>."""
    n = next(_seq)
    source = source_make(SOURCE)
    patient = patient or f"ip{n}"
    local = timezone.localtime(timezone.now(), site.tzinfo) + timedelta(days=days)
    start = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    appointment = store_make(
        "Appointment", f"ia{n}", source=source, status="booked", start=start, patient_ref=f"Patient/{patient}"
    )
    intake = Intake(
        source=source, appointment=appointment, site=site, queue="intake", patient_ref=f"Patient/{patient}",
        appointment_type="ROUTINE", appointment_type_display="Routine appointment",
    )  # fmt: skip
    schedule_visit(intake, start)
    for name, value in fields.items():
        setattr(intake, name, value)
    intake.save()
    checklist_sync(intake)
    patient_make(patient, source=source, family=f"Family{n}", given="Alex")
    return intake


def matrix_intake(**fields: Any) -> Any:
    """kwargs(site) → ``{"pk": …}`` of a new intake there."""
    return lambda site: {"pk": intake_make(site, **fields).pk}


def matrix_check(key: str = "demographics") -> Any:
    return lambda site: {"pk": intake_make(site).pk, "key": key}


def matrix_act(action: str) -> Any:
    return lambda site: {"pk": intake_make(site, days=0).pk, "action": action}


def ma(site: Any) -> Any:
    return UserFactory(role=Role.MEDICAL_ASSISTANT, sites=[site])


def matrix_claimed_intake(site: Any) -> dict[str, Any]:
    """An intake a colleague of ``site`` has claimed: only a supervisor releases it."""
    from django.utils import timezone

    holder = UserFactory(role=Role.MEDICAL_ASSISTANT, sites=[site])
    return {"pk": intake_make(site, assignee=holder, claimed_at=timezone.now()).pk}
