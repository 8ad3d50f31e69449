"""Patients across the workflows: search, the patient page's items, and the token that carries a
chosen patient into a manual entry form.

The store keeps no site per patient, so a patient is *at* a user's sites when one of the
workflows (through the registry, never by importing them) has an item of theirs there; a
break-glass grant adds its patient (``scope_to_sites``). A patient new to the user's sites can
only be found by their exact MRN, and only by someone who may enter work for them (a fax
referral, a walk-in), among the patients of the EHR sources that already feed those sites.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core import signing
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Concat
from django.http import Http404
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from apps.core.roles import can_see_patient_data
from apps.core.scoping import scope_to_sites
from apps.ehr.models import Patient

from .models import WorkItem
from .registry import workflow_models, workflow_policy

SEARCH_LIMIT = 25
ENTRY_PERMISSIONS = ("core.work_referrals", "core.work_intake")
PICK_SALT = "clinops.patient-pick"
PICK_MAX_AGE = 2 * 60 * 60  # a chosen patient stays chosen for a shift's form, not for ever
# What names an item of each workflow on the patient page (the first field the model has).
SUMMARY_FIELDS = ("specialty_display", "appointment_type_display", "code_display", "reason")


@dataclass(frozen=True)
class PatientHit:
    patient: Patient
    known_here: bool  # False: found by exact MRN, has no item at the user's sites yet


def may_enter_work(user: Any) -> bool:
    """Whether the user may enter work by hand (a referral or a walk-in) for a patient."""
    return can_see_patient_data(user) and any(user.has_perm(p) for p in ENTRY_PERMISSIONS)


def _known(user: Any, patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """Those patients who have an item, in any workflow, that the user may see (one query)."""
    with_ref = patients.annotate(ref=Concat(Value("Patient/"), "fhir_id", output_field=CharField()))
    seen = Q()
    for model in workflow_models().values():
        items = model.objects.filter(source_id=OuterRef("source_id"), patient_ref=OuterRef("ref"))
        seen |= Q(Exists(scope_to_sites(items, user)))
    return with_ref.filter(seen) if workflow_models() else patients.none()


def _feeding_sources(user: Any) -> set[int]:
    """The EHR sources that feed the user's sites (they have items there)."""
    sources: set[int] = set()
    for model in workflow_models().values():
        sources.update(scope_to_sites(model.objects.all(), user).values_list("source_id", flat=True).distinct())
    return sources


def patient_search(
    *, user: Any, name: str = "", mrn: str = "", birth_date: date | None = None, limit: int = SEARCH_LIMIT
) -> list[PatientHit]:
    """Patients at the user's sites matching every criterion given (name parts match the start of the
    family or given name; MRN exactly; birth date exactly), by name; then, for users who enter work,
    patients new to their sites with that exact MRN. Nothing for roles that see no patients."""
    if not can_see_patient_data(user) or not (name.strip() or mrn.strip() or birth_date):
        return []
    matching = Patient.objects.filter(deleted=False)
    for part in name.replace(",", " ").split()[:4]:
        matching = matching.filter(Q(family__istartswith=part) | Q(given__istartswith=part))
    if mrn.strip():
        matching = matching.filter(mrn__iexact=mrn.strip())
    if birth_date:
        matching = matching.filter(birth_date=birth_date)
    rows = _known(user, matching).order_by("family", "given", "birth_date", "id")[:limit]
    hits = [PatientHit(patient, known_here=True) for patient in rows]
    if mrn.strip() and may_enter_work(user) and len(hits) < limit:
        seen = {hit.patient.pk for hit in hits}
        new = matching.filter(source_id__in=_feeding_sources(user)).exclude(pk__in=seen).order_by("id")
        hits += [PatientHit(patient, known_here=False) for patient in new[: limit - len(hits)]]
    return hits


def patient_get(*, user: Any, patient_id: int) -> Patient:
    """A store Patient who has an item the user may see; any other is 'not found' (not disclosed)."""
    patient = Patient.objects.filter(pk=patient_id, deleted=False).first() if can_see_patient_data(user) else None
    if patient is None or not _known(user, Patient.objects.filter(pk=patient.pk)).exists():
        raise Http404("No such patient.")
    return patient


def patient_items(*, user: Any, patient: Patient) -> list[WorkItem]:
    """Every item of the patient the user may see, in every workflow, open and closed, newest first;
    each gets ``workflow_label``, ``summary`` and ``url`` (None when the user's role does not open it)."""
    items: list[WorkItem] = []
    for name, model in workflow_models().items():
        rows = scope_to_sites(
            model.objects.filter(source_id=patient.source_id, patient_ref=patient.reference), user
        ).select_related("site", "assignee")
        for item in rows:
            item.workflow_label = workflow_policy(name).noun.capitalize()
            item.summary = next((getattr(item, f) for f in SUMMARY_FIELDS if getattr(item, f, "")), "")
            item.url = item_url(item, user=user)
            items.append(item)
    return sorted(items, key=lambda i: i.opened_at, reverse=True)


def item_url(item: WorkItem, *, user: Any) -> str | None:
    """The item's page, when the user's role opens it (``VIEW_PERMISSIONS``, else its work permission)."""
    permissions = getattr(item, "VIEW_PERMISSIONS", None) or (item.WORK_PERMISSION,)
    if not any(user.has_perm(p) for p in permissions):
        return None
    try:
        return reverse(f"{item._meta.app_label}:detail", args=[item.pk])
    except NoReverseMatch:
        return None


# --- carrying a chosen patient into a form ----------------------------------------------


def patient_pick_token(*, user: Any, patient: Patient) -> str:
    """A signed, expiring token naming ``patient`` for this user: forms take it instead of an id, so
    a patient can only be entered after being found by a search (no guessing of ids)."""
    return signing.dumps({"p": patient.pk, "u": user.pk}, salt=PICK_SALT, compress=True)


def patient_from_pick(*, user: Any, token: str) -> Patient | None:
    """The patient a token names, if it is this user's, unexpired and the patient still in the store."""
    try:
        data = signing.loads(token, salt=PICK_SALT, max_age=PICK_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("u") != user.pk or not can_see_patient_data(user):
        return None
    return Patient.objects.filter(pk=data.get("p"), deleted=False).select_related("source").first()


def patient_age(patient: Patient, *, today: date | None = None) -> int | None:
    if patient.birth_date is None:
        return None
    today = today or timezone.localdate()
    born = patient.birth_date
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
