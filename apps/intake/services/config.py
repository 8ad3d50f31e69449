"""The per-site intake switch (``IntakeSite``): whether appointments booked at a site create
intakes, and which EHR Locations are the site. Configuration, kept in the admin (and by the demo
seed); ``ehr.intake_site_for`` reads it."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q

from apps.core.errors import ApplicationError
from apps.core.models import Site, User
from apps.ehr.models import EhrSource
from apps.ehr.services.extract import is_ref

from ..models import IntakeSite


def intake_site_check(*, site: Site, source: EhrSource, location_refs: object, pk: int | None = None) -> None:
    """Refuse locations that are not ``Location/<id>`` references or that would make an appointment's
    site ambiguous (a location, or the default with none, already another site's for the source)."""
    if not isinstance(location_refs, list) or not all(
        isinstance(r, str) and is_ref(r, "Location") for r in location_refs
    ):
        raise ApplicationError(
            'The locations must be a list of references such as ["Location/north-main"].', code="invalid_locations"
        )
    if len(set(location_refs)) != len(location_refs):
        raise ApplicationError("A location is listed twice.", code="duplicate_location")
    others = IntakeSite.objects.filter(source=source).exclude(Q(site=site) | Q(pk=pk)).select_related("site")
    for other in others:
        if not location_refs and not other.location_refs:
            raise ApplicationError(
                f"{other.site} is already {source}'s default site (no locations): name this site's locations.",
                code="duplicate_default",
            )
        if taken := sorted(set(location_refs) & set(other.location_refs or [])):
            raise ApplicationError(f"{', '.join(taken)} already belongs to {other.site}.", code="location_taken")


@transaction.atomic
def intake_site_upsert(
    *,
    site: Site,
    source: EhrSource,
    enabled: bool,
    location_refs: list[str],
    keep_existing: bool = False,
    by: User | None,
) -> tuple[IntakeSite, bool]:
    """Switch intake on or off at a site for a source and name its Locations; with ``keep_existing``
    a site already set up stays as it is (a re-run seed keeps an admin's edit)."""
    _ensure_allowed(by)
    existing = IntakeSite.objects.select_for_update().filter(site=site).first()
    if existing is not None and keep_existing:
        return existing, False
    intake_site_check(site=site, source=source, location_refs=location_refs)
    values = {"source": source, "enabled": enabled, "location_refs": list(location_refs)}
    if existing is None:
        return IntakeSite.objects.create(site=site, **values), True
    if (existing.source_id, existing.enabled, existing.location_refs) != (source.pk, enabled, values["location_refs"]):
        existing.source, existing.enabled, existing.location_refs = source, enabled, values["location_refs"]
        existing.save()
    return existing, False


@transaction.atomic
def intake_site_save(*, intake_site: IntakeSite, by: User | None) -> IntakeSite:
    """Save an intake site edited as a whole (the admin form, already validated) under the same rules."""
    _ensure_allowed(by)
    intake_site_check(
        site=intake_site.site, source=intake_site.source, location_refs=intake_site.location_refs, pk=intake_site.pk
    )
    intake_site.save()
    return intake_site


@transaction.atomic
def intake_site_enable(*, site_id: int, enabled: bool) -> bool:
    """Switch intake on or off at a site already set up (apps.governance's rollout switch: pilot and
    live turn it on, off turns it off; the caller checked who may). False: no intake set-up there."""
    existing = IntakeSite.objects.select_for_update().filter(site_id=site_id).first()
    if existing is None:
        return False
    if existing.enabled != enabled:
        existing.enabled = enabled
        existing.save()
    return True


def _ensure_allowed(by: User | None) -> None:
    # None: the system (the demo seed, a management command).
    if by is not None and not by.has_perm("intake.change_intakesite"):
        raise PermissionDenied("You may not switch intake on or off.")
