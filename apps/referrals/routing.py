"""Routing codes: a referral's specialty is translated to the canonical specialty code set
(terminology.translate) before it is routed. A code no active map translates is never
guessed: it goes to the unmapped-codes queue and the referral waits in the exceptions queue
until a mapping for it becomes active, then it is routed again automatically."""

from dataclasses import dataclass

from django.db.models import Q

from apps.core.models import ServiceLine, Site
from apps.terminology.translation import translate

from .models import ReferralRoute

SPECIALTY_SYSTEM = "http://clinops.example.org/fhir/CodeSystem/specialty"


@dataclass(frozen=True)
class SpecialtyResult:
    code: str | None  # the canonical specialty, or None when it cannot be known
    problem: str = ""  # why not, in words a steward or scheduler can act on


def specialty_canonical(specialty: str) -> SpecialtyResult:
    """``system|code`` as sent by the EHR → the canonical specialty code."""
    system, _, code = specialty.partition("|")
    if not code:
        return SpecialtyResult(None, "The referral names no specialty.")
    if system == SPECIALTY_SYSTEM:
        return SpecialtyResult(code)
    found = translate(system, code, SPECIALTY_SYSTEM)
    if found is None:
        return SpecialtyResult(None, f"No active concept map translates {system or 'codes without a system'} "
                                     "to the canonical specialties.")  # fmt: skip
    if found.mapped and found.target_code:
        return SpecialtyResult(found.target_code)
    if found.mapped:
        return SpecialtyResult(None, f"{code} maps to several specialties; a person must choose.")
    return SpecialtyResult(None, found.message)


class RoutingError(Exception):
    """No route sends this source's referrals to a site: configure ReferralRoute, then replay."""

    code = "no_route"


def route_for(source_id: int, performer_ref: str, specialty: str) -> ReferralRoute:
    """The most specific route for a referral (performer, then canonical specialty, then default)."""
    routes = ReferralRoute.objects.filter(
        Q(performer_ref__in=[performer_ref, ""]) & Q(specialty__in=[specialty, ""]), source_id=source_id
    ).select_related("site", "service_line")
    best = max(routes, key=lambda r: (r.performer_ref == performer_ref, r.specialty == specialty), default=None)
    if best is None:
        raise RoutingError(f"No referral route for source {source_id}: add a default route (site) in the admin.")
    return best


def service_line_for(site: Site, specialty: str | None) -> ServiceLine | None:
    """The site's service line for a canonical specialty (service lines share its codes)."""
    if not specialty:
        return None
    return ServiceLine.objects.filter(code=specialty, sites=site).first()
