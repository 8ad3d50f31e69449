"""Lockouts behind a reverse proxy key on the client's address from X-Forwarded-For, as far as
the configured number of trusted proxies vouches for it (apps.core.client_ip)."""

import pytest
from django.urls import reverse

from apps.core.roles import Role
from tests.plugins.core import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
PROXY = "10.0.0.1"  # every request reaches the app from the proxy
ATTACKER, SAM = "203.0.113.9", "198.51.100.7"


def sign_in(client, password, *, forwarded_for):
    return client.post(
        reverse("login"),
        {"username": "sam", "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


@pytest.fixture
def sam(own_site):
    return UserFactory(username="sam", role=Role.SCHEDULER, sites=[own_site])


def test_behind_one_proxy_an_attacker_cannot_lock_sam_out_from_his_own_address(client, settings, sam):
    settings.CLINOPS_TRUSTED_PROXY_COUNT = 1
    for _ in range(settings.AXES_FAILURE_LIMIT + 2):
        sign_in(client, "wrong-password-123", forwarded_for=ATTACKER)
    assert sign_in(client, "wrong-password-123", forwarded_for=ATTACKER).status_code == 429  # the attacker is
    assert sign_in(client, PASSWORD, forwarded_for=SAM).status_code == 302  # sam is not


def test_a_forged_header_does_not_move_the_lockout_to_someone_else(client, settings, sam):
    settings.CLINOPS_TRUSTED_PROXY_COUNT = 1
    for _ in range(settings.AXES_FAILURE_LIMIT):
        # The attacker writes sam's address in front; the proxy appends the attacker's real one.
        sign_in(client, "wrong-password-123", forwarded_for=f"{SAM}, {ATTACKER}")
    assert sign_in(client, PASSWORD, forwarded_for=ATTACKER).status_code == 429
    assert sign_in(client, PASSWORD, forwarded_for=SAM).status_code == 302


def test_with_no_trusted_proxy_the_header_is_ignored(client, settings, sam):
    assert settings.CLINOPS_TRUSTED_PROXY_COUNT == 0
    for number in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "wrong-password-123", forwarded_for=f"192.0.2.{number}")  # rotating a forged header
    assert sign_in(client, PASSWORD, forwarded_for="192.0.2.200").status_code == 429  # still the same address
