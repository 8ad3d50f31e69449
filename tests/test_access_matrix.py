"""Role × URL × own site / other site → expected status (tests/access_matrix.py)."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apps.core.models import User
from tests.plugins.core import UserFactory, other_site_make, own_site_make
from tests.plugins.shared_db import shared_data

from .access_matrix import ANON, COVERED_NAMESPACES, ROLES, ROWS

CASES = [(row, role, "own") for row in ROWS for role in ROLES] + [
    (row, role, "other") for row in ROWS if row.site_scoped for role in ROLES if row.expected[role] < 300
]


def _people() -> dict[str, int]:
    """The two sites, and one user per role at the own site: {role: user id}."""
    own, _ = own_site_make(), other_site_make()
    return {role: UserFactory(role=role, sites=[own]).pk for role in ROLES if role != ANON}


@pytest.fixture(scope="module")
def people(django_db_setup, django_db_blocker):
    """Made once for the module's thousand requests; each test's own writes still roll back."""
    yield from shared_data(django_db_blocker, _people)


@pytest.mark.django_db
@pytest.mark.parametrize(("row", "role", "where"), CASES, ids=lambda v: str(v))
def test_access(row, role, where, client, people, own_site, other_site):
    if role != ANON:
        client.force_login(User.objects.get(pk=people[role]))
    site = own_site if where == "own" else other_site
    url = reverse(row.name, kwargs=row.kwargs(site) if row.kwargs else None)
    response = getattr(client, row.method)(url, row.data)
    expected = row.expected[role] if where == "own" else row.other_site
    assert response.status_code == expected, (
        f"{role} {row.method.upper()} {url} at {where} site: {response.status_code}, expected {expected}"
    )


def _url_names(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name}" if pattern.name else f"{namespace}<unnamed {pattern.pattern}>"


def test_every_url_is_in_the_matrix():
    in_matrix = {row.name for row in ROWS}
    missing = sorted(
        name
        for name in set(_url_names(get_resolver().url_patterns))
        if name.split(":")[0] not in COVERED_NAMESPACES and name not in in_matrix
    )
    assert not missing, f"URLs with no row in tests/access_matrix.py: {missing}"
