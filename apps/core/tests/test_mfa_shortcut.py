"""Tests of other features sign in with force_login and are not stopped by MFA (tests/plugins/clinops.py)."""

import pytest
from django.urls import reverse

from apps.core.roles import Role
from tests.plugins.core import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.INTEGRATION_ADMIN])
def test_force_login_counts_as_mfa_verified_outside_mfa_tests(client, own_site, role):
    client.force_login(UserFactory(role=role, sites=[own_site]))
    response = client.get(reverse("core:home"))
    # Integration admins land on their console (a redirect), the others on their home: never on MFA.
    assert response.status_code in (200, 302) and "mfa" not in response.get("Location", "")
