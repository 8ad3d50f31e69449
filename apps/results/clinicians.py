"""Who reviews a result: the ordering clinician from the result's ``basedOn`` ServiceRequest
(its requester), else the result's performer, linked to a clinops user by ``ClinicianLink``.
A result whose clinician cannot be found goes to the site's unassigned pool, flagged."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from apps.core.models import Site
from apps.ehr.models import PractitionerRole, ServiceRequest
from apps.ehr.services.extract import ref

from .models import ClinicianLink, Coverage, ResultSite


class RoutingError(Exception):
    """Neither a linked clinician nor a results site for the source: configure, then replay."""

    code = "no_results_site"


@dataclass(frozen=True)
class Resolution:
    practitioner_ref: str  # Practitioner/… found in the result ("" when none)
    user: Any  # the linked clinops clinician, or None
    site: Site
    how: str  # the path that found it, or why nobody was found


def _practitioner(source_id: int, reference: str) -> str:
    kind, _, fhir_id = reference.partition("/")
    if kind == "Practitioner":
        return reference
    if kind == "PractitionerRole":
        role = PractitionerRole.objects.filter(source_id=source_id, fhir_id=fhir_id).first()
        return role.practitioner_ref if role and role.practitioner_ref.startswith("Practitioner/") else ""
    return ""


def ordering_practitioner(source_id: int, resource: dict[str, Any]) -> tuple[str, str]:
    """``(Practitioner/…, how)``: basedOn ServiceRequest requester first, then the performer."""
    for based_on in resource.get("basedOn") or []:
        reference = ref(based_on)
        if not reference.startswith("ServiceRequest/"):
            continue
        request = ServiceRequest.objects.filter(source_id=source_id, fhir_id=reference.split("/", 1)[1]).first()
        if request is not None and (found := _practitioner(source_id, request.requester_ref)):
            return found, f"requester of {reference}"
    for performer in resource.get("performer") or []:
        if found := _practitioner(source_id, ref(performer)):
            return found, "performer of the result"
    return "", ""


def results_set_up(source_id: int) -> bool:
    """Whether the source is set up for results follow-up: a results site or a clinician link."""
    return ResultSite.objects.filter(source_id=source_id).exists() or (
        ClinicianLink.objects.filter(source_id=source_id).exists()
    )


def clinician_resolve(source_id: int, resource: dict[str, Any]) -> Resolution | None:
    """The ordering clinician and the site of a result; None when the source is not set up for
    results follow-up at all; RoutingError when it is set up but neither a clinician nor a site is known."""
    practitioner, how = ordering_practitioner(source_id, resource)
    link = (
        ClinicianLink.objects.select_related("user", "site").filter(source_id=source_id, practitioner_ref=practitioner)
        .first() if practitioner else None
    )  # fmt: skip
    if link is not None and link.user.is_active:
        return Resolution(practitioner, link.user, link.site, how)
    fallback = ResultSite.objects.select_related("site").filter(source_id=source_id).first()
    if fallback is None and not ClinicianLink.objects.filter(source_id=source_id).exists():
        return None  # results follow-up is not set up for this source (no results site, no clinician links)
    if fallback is None:
        raise RoutingError(f"No results site for source {source_id}: add one (or a clinician link) in the admin.")
    if practitioner:
        why = f"{practitioner} ({how}) is not linked to a clinops clinician."
    else:
        why = "The result names no ordering clinician (no basedOn requester, no practitioner performer)."
    return Resolution(practitioner, None, fallback.site, why)


def covering_for(clinician: Any, at: datetime | None = None) -> Any:
    """The colleague covering ``clinician``'s inbox at ``at`` (the latest coverage made wins), or None."""
    if clinician is None:
        return None
    at = at or timezone.now()
    coverage = (
        Coverage.objects.select_related("covered_by")
        .filter(Q(cancelled_at__isnull=True), clinician=clinician, starts_at__lte=at, ends_at__gt=at)
        .order_by("-created_at", "-id")
        .first()
    )
    return coverage.covered_by if coverage and coverage.covered_by.is_active else None
