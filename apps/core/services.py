"""Writes for sites, service lines and people."""

import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction

from .models import ServiceLine, Site, User
from .roles import STAFF_ROLES, roles_sync

REFERENCE_DIR = Path(settings.BASE_DIR) / "fixtures"


@transaction.atomic
def service_lines_load(*, path: Path | None = None) -> int:
    """Create or update the service lines of the reference data; returns how many there are."""
    rows = json.loads((path or REFERENCE_DIR / "core_service_lines.json").read_text())
    for row in rows:
        ServiceLine.objects.update_or_create(code=row["code"], defaults={"name": row["name"]})
    return len(rows)


@transaction.atomic
def site_upsert(*, code: str, name: str, timezone: str, service_lines: list[str]) -> Site:
    """Create or update a site and the service lines it offers."""
    site, _ = Site.objects.update_or_create(code=code, defaults={"name": name, "timezone": timezone})
    site.full_clean()
    site.service_lines.set(ServiceLine.objects.filter(code__in=service_lines))
    return site


@transaction.atomic
def user_upsert(
    *,
    username: str,
    first_name: str,
    last_name: str,
    roles: list[str],
    site_codes: list[str],
    password: str | None = None,
) -> tuple[User, bool]:
    """Create or update a member of staff with their roles and sites; the password is set only
    when the user is created, so a re-run never undoes a password change."""
    roles_sync()
    user, created = User.objects.get_or_create(username=username)
    user.first_name, user.last_name = first_name, last_name
    user.is_staff = bool(STAFF_ROLES.intersection(roles))
    if created and password:
        user.set_password(password)
    user.save()
    user.groups.set(Group.objects.filter(name__in=roles))
    user.sites.set(Site.objects.filter(code__in=site_codes))
    return user, created
