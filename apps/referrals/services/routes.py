"""Where each EHR source's referrals go (``ReferralRoute``): routing configuration, kept by
integration admins in the admin (and by the demo seed). The most specific route wins (``routing.py``)."""

from django.core.exceptions import PermissionDenied
from django.db import transaction

from apps.core.errors import ApplicationError
from apps.core.models import ServiceLine, Site, User
from apps.ehr.models import EhrSource
from apps.ehr.services.extract import is_ref

from ..models import ReferralRoute


def referral_route_check(*, performer_ref: str, specialty: str, site: Site) -> None:
    """Refuse a route that could never match a referral or would send its referrals to a closed site."""
    if performer_ref and not is_ref(performer_ref):
        raise ApplicationError(
            f"The performer must be blank (any) or a reference such as Organization/123, not {performer_ref!r}.",
            code="invalid_performer",
        )
    if specialty and ("|" in specialty or specialty.split() != [specialty]):
        raise ApplicationError(
            f"The specialty must be blank (any) or one canonical specialty code such as cardiology, not {specialty!r}.",
            code="invalid_specialty",
        )
    if not site.is_active:
        raise ApplicationError(
            f"{site} is not active: referrals routed there would reach nobody.", code="inactive_site"
        )


@transaction.atomic
def referral_route_upsert(
    *,
    source: EhrSource,
    site: Site,
    performer_ref: str = "",
    specialty: str = "",
    service_line: ServiceLine | None = None,
    keep_existing: bool = False,
    by: User | None,
) -> tuple[ReferralRoute, bool]:
    """Create the route for a source's performer and specialty (blank: any), or point it at ``site``;
    with ``keep_existing`` a route already there stays as it is (a re-run seed keeps an admin's edit)."""
    _ensure_allowed(by)
    route = (
        ReferralRoute.objects.select_for_update()
        .filter(source=source, performer_ref=performer_ref, specialty=specialty)
        .first()
    )
    if route is not None and keep_existing:
        return route, False
    referral_route_check(performer_ref=performer_ref, specialty=specialty, site=site)
    if route is None:
        route = ReferralRoute.objects.create(
            source=source, performer_ref=performer_ref, specialty=specialty, site=site, service_line=service_line
        )
        return route, True
    if (route.site_id, route.service_line_id) != (site.pk, service_line.pk if service_line else None):
        route.site, route.service_line = site, service_line
        route.save()
    return route, False


@transaction.atomic
def referral_route_save(*, route: ReferralRoute, by: User | None) -> ReferralRoute:
    """Save a route edited as a whole (the admin form, already validated) under the same rules."""
    _ensure_allowed(by)
    referral_route_check(performer_ref=route.performer_ref, specialty=route.specialty, site=route.site)
    route.save()
    return route


def _ensure_allowed(by: User | None) -> None:
    # None: the system (the demo seed, a management command).
    if by is not None and not by.has_perm("referrals.change_referralroute"):
        raise PermissionDenied("Only an integration admin can change where referrals go.")
