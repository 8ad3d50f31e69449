"""Where a source's results go: the clinops clinician each EHR Practitioner is (``ClinicianLink``)
and the site whose pool takes the rest (``ResultSite``). Configuration, kept in the admin (and by
the demo seed); ``clinicians.clinician_resolve`` reads it."""

from django.core.exceptions import PermissionDenied
from django.db import transaction

from apps.core.errors import ApplicationError
from apps.core.models import Site, User
from apps.ehr.models import EhrSource
from apps.ehr.services.extract import is_ref

from ..models import ClinicianLink, ResultSite


def result_site_check(*, site: Site) -> None:
    """Refuse a results pool at a closed site."""
    if not site.is_active:
        raise ApplicationError(f"{site} is not active: results sent there would reach nobody.", code="inactive_site")


def clinician_link_check(*, practitioner_ref: str, site: Site) -> None:
    """Refuse a link that could never match a result or that sends results to a closed site."""
    if not is_ref(practitioner_ref, "Practitioner"):
        raise ApplicationError(
            f"The practitioner must be a reference such as Practitioner/123, not {practitioner_ref!r}.",
            code="invalid_practitioner",
        )
    result_site_check(site=site)


@transaction.atomic
def result_site_upsert(
    *, source: EhrSource, site: Site, keep_existing: bool = False, by: User | None
) -> tuple[ResultSite, bool]:
    """Send a source's unlinked results to ``site``'s pool; with ``keep_existing`` a source that
    already has a pool keeps it (a re-run seed keeps an admin's edit)."""
    _ensure_allowed(by, "resultsite", "where results go")
    pool = ResultSite.objects.select_for_update().filter(source=source).first()
    if pool is not None and keep_existing:
        return pool, False
    result_site_check(site=site)
    if pool is None:
        return ResultSite.objects.create(source=source, site=site), True
    if pool.site_id != site.pk:
        pool.site = site
        pool.save()
    return pool, False


@transaction.atomic
def result_site_save(*, pool: ResultSite, by: User | None) -> ResultSite:
    """Save a results pool edited as a whole (the admin form, already validated) under the same rules."""
    _ensure_allowed(by, "resultsite", "where results go")
    result_site_check(site=pool.site)
    pool.save()
    return pool


@transaction.atomic
def clinician_link_upsert(
    *, source: EhrSource, practitioner_ref: str, user: User, site: Site, keep_existing: bool = False, by: User | None
) -> tuple[ClinicianLink, bool]:
    """Link a source's Practitioner to a clinops clinician at a site; with ``keep_existing`` a link
    already there stays as it is (a re-run seed keeps an admin's edit)."""
    _ensure_allowed(by, "clinicianlink", "clinician links")
    link = ClinicianLink.objects.select_for_update().filter(source=source, practitioner_ref=practitioner_ref).first()
    if link is not None and keep_existing:
        return link, False
    clinician_link_check(practitioner_ref=practitioner_ref, site=site)
    if link is None:
        return ClinicianLink.objects.create(
            source=source, practitioner_ref=practitioner_ref, user=user, site=site
        ), True
    if (link.user_id, link.site_id) != (user.pk, site.pk):
        link.user, link.site = user, site
        link.save()
    return link, False


@transaction.atomic
def clinician_link_save(*, link: ClinicianLink, by: User | None) -> ClinicianLink:
    """Save a clinician link edited as a whole (the admin form, already validated) under the same rules."""
    _ensure_allowed(by, "clinicianlink", "clinician links")
    clinician_link_check(practitioner_ref=link.practitioner_ref, site=link.site)
    link.save()
    return link


def _ensure_allowed(by: User | None, model: str, what: str) -> None:
    # None: the system (the demo seed, a management command).
    if by is not None and not by.has_perm(f"results.change_{model}"):
        raise PermissionDenied(f"You may not change {what}.")
