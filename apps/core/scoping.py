"""Site scoping: the one place that limits what a user may see to the sites they belong to.

Every selector that returns patient data passes its queryset through ``scope_to_sites``;
nothing else decides site visibility. Superusers see every site. A break-glass grant
(apps.core.emergency) adds one patient's rows at any site to models with a ``patient_ref``
(every workflow item), read-only: the permission checks of actions use ``site_ids_for``.
"""

from typing import Any, TypeVar

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, Q, QuerySet

from .models import Site

M = TypeVar("M", bound=Model)


def site_ids_for(user: Any) -> set[int]:
    """The ids of the active sites this user may see (cached on the user for the request)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    cached = getattr(user, "_clinops_site_ids", None)
    if cached is None:
        cached = user._clinops_site_ids = {site.pk for site in site_list_for(user)}
    return cached


def site_list_for(user: Any) -> list[Site]:
    """The user's active sites by name, as a list (one query, then cached on the user for the
    request: the time zone middleware, the scoping and the worklist's site filter share it)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cached = getattr(user, "_clinops_sites", None)
    if cached is None:
        sites = Site.objects.filter(is_active=True)
        if not user.is_superuser:
            sites = sites.filter(members=user)
        cached = list(sites.order_by("name"))
        user._clinops_sites = cached
    return cached


def sites_for(user: Any) -> QuerySet[Site]:
    """The user's sites, for menus and filters."""
    return Site.objects.filter(id__in=site_ids_for(user)).prefetch_related("service_lines")


def scope_to_sites(queryset: QuerySet[M], user: Any, *, site_field: str = "site") -> QuerySet[M]:
    """Limit a queryset to rows whose ``site_field`` is one of the user's sites (or a granted patient's)."""
    visible = Q(**{f"{site_field}__in": site_ids_for(user)})
    if _has_field(queryset.model, PATIENT_FIELD):
        from .emergency import emergency_patients_for

        granted = emergency_patients_for(user)
        if granted:
            visible |= Q(**{f"{PATIENT_FIELD}__in": granted})
    return queryset.filter(visible)


PATIENT_FIELD = "patient_ref"


def _has_field(model: type[Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True
