"""Break-glass emergency access: a member of the emergency group opens one patient's items
outside their sites after giving a reason. The grant is read-only (nothing may be worked
outside one's sites), ends after ``CLINOPS_EMERGENCY_GRANT_MINUTES`` and every view under it
is access-logged with ``emergency=True``. ``scope_to_sites`` honours grants, so every
workflow app gets this without code of its own.

Core keeps no patients: the app that does (ehr) registers how to find one from what the user
typed (``emergency_patient_finder_register``, in its ``AppConfig.ready()``), so core never
imports it (DESIGN.md: one direction).
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from .json_input import text_problem
from .models import EmergencyGrant, User

EMERGENCY_PERMISSION = "core.use_emergency_access"
MIN_REASON_LENGTH = 15

# What the user typed (an MRN or ``Patient/<id>``) -> the references of the patients it matches
# (two are enough to tell it is not one).
PatientFinder = Callable[[str], list[str]]
_patient_finder: PatientFinder | None = None


def emergency_patient_finder_register(finder: PatientFinder | None) -> None:
    """Set how a grant's patient is found (the ehr app does, when apps load); None unsets it."""
    global _patient_finder
    _patient_finder = finder


def emergency_patients_for(user: Any) -> set[str]:
    """The patients this user holds an unexpired grant for (cached on the user for the request)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    cached = getattr(user, "_clinops_emergency_patients", None)
    if cached is None:
        cached = set(
            EmergencyGrant.objects.filter(user=user, expires_at__gt=timezone.now()).values_list("patient", flat=True)
        )
        user._clinops_emergency_patients = cached
    return cached


@transaction.atomic
def emergency_grant_open(*, user: User, patient: str, reason: str) -> EmergencyGrant:
    """Open a break-glass grant for one patient; the reason is required and the grant expires."""
    if not user.has_perm(EMERGENCY_PERMISSION):
        raise PermissionDenied("Only the emergency access group may break the glass.")
    for label, value in (("The patient", patient), ("The reason", reason)):
        if problem := text_problem(value):
            # PostgreSQL cannot search or store text holding NUL: refused here, not a failed query.
            raise ValidationError(f"{label} {problem}; type it again.", code="not_text")
    reason = reason.strip()
    if len(reason) < MIN_REASON_LENGTH:
        raise ValidationError(f"Say why in at least {MIN_REASON_LENGTH} characters.", code="reason")
    patient_ref = _patient_ref(patient)
    now = timezone.now()
    grant = EmergencyGrant.objects.create(
        user=user,
        patient=patient_ref,
        reason=reason,
        started_at=now,
        expires_at=now + timedelta(minutes=settings.CLINOPS_EMERGENCY_GRANT_MINUTES),
    )
    if hasattr(user, "_clinops_emergency_patients"):
        del user._clinops_emergency_patients
    return grant


def emergency_grant_list(*, since: Any | None = None) -> QuerySet[EmergencyGrant]:
    """Every grant (newest first) with the number of emergency views made under it, for supervisors."""
    since = since or timezone.now() - timedelta(days=30)
    views_under = Q(
        user__access_logs__emergency=True,
        user__access_logs__patient=F("patient"),
        user__access_logs__at__gte=F("started_at"),
        user__access_logs__at__lte=F("expires_at"),
    )
    return (
        EmergencyGrant.objects.filter(started_at__gte=since)
        .select_related("user")
        .annotate(views=Count("user__access_logs", filter=views_under))
        .order_by("-started_at", "-id")
    )


def is_emergency_view(user: Any, patient: str, site_id: int | None) -> bool:
    """Whether showing ``patient`` (at ``site_id``) to ``user`` is only possible under a grant."""
    from .scoping import site_ids_for

    if patient not in emergency_patients_for(user):
        return False
    return site_id is not None and site_id not in site_ids_for(user)


def _patient_ref(text: str) -> str:
    """``Patient/<id>`` of a patient in the local store, found by that reference or by MRN."""
    if _patient_finder is None:
        raise ImproperlyConfigured("No patient finder registered (apps.ehr registers one when it is installed).")
    text = text.strip()
    refs = set(_patient_finder(text)) if text else set()
    if len(refs) != 1:
        raise ValidationError("No single patient matches; give the MRN or the reference Patient/<id> from the EHR.")
    return refs.pop()
