"""Reads for sites and people, always scoped to the asking user's sites."""

from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from .models import Site, User
from .roles import Role
from .scoping import sites_for


def site_list(*, user: Any) -> QuerySet[Site]:
    """The active sites the user belongs to, with their service lines."""
    return sites_for(user).order_by("name")


def site_get(*, user: Any, code: str) -> Site:
    """One of the user's sites; any other site is 'not found', so its existence is not disclosed."""
    site = site_list(user=user).filter(code=code).first()
    if site is None:
        raise Http404("No such site.")
    return site


def site_team(*, site: Site) -> list[dict[str, Any]]:
    """The site's active staff grouped by role, in the order of Role.ALL."""
    members = (
        User.objects.filter(sites=site, is_active=True)
        .prefetch_related(Prefetch("groups"))
        .order_by("last_name", "first_name", "username")
    )
    by_role: dict[str, list[User]] = {role: [] for role in Role.ALL}
    for member in members:
        for group in member.groups.all():
            if group.name in by_role:
                by_role[group.name].append(member)
    return [{"role": Role.LABELS[r], "members": people} for r, people in by_role.items() if people]


def site_members(*, site_id: int, permission: str = "") -> QuerySet[User]:
    """The site's active staff, by name; with ``permission`` ("app_label.codename"), only those
    whose role (or own permissions) hold it."""
    members = User.objects.filter(sites__id=site_id, is_active=True)
    if permission:
        app_label, codename = permission.split(".", 1)
        held = Q(groups__permissions__codename=codename, groups__permissions__content_type__app_label=app_label) | Q(
            user_permissions__codename=codename, user_permissions__content_type__app_label=app_label
        )
        members = members.filter(held)
    return members.distinct().order_by("last_name", "first_name", "username")
