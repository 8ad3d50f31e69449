"""Password policy per ASVS V2.1, and sessions that end when the account changes."""

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from apps.core.roles import Role
from tests.plugins.core import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("password", "why"),
    [("short-pw-1", "at least 12 characters"), ("password1234", "too common"), ("123456789012", "entirely numeric")],
)
def test_weak_passwords_are_refused_with_the_reason(password, why):
    with pytest.raises(ValidationError) as error:
        validate_password(password)
    assert any(why in message for message in error.value.messages)


def test_a_long_passphrase_without_composition_rules_is_accepted():
    validate_password("walrus lantern seventeen")  # no digits or symbols needed (ASVS 2.1.9)


def test_there_is_no_forced_rotation():
    assert not [name for name in dir(settings) if "PASSWORD" in name and ("AGE" in name or "EXPIR" in name)]


@pytest.fixture
def signed_in(own_site):
    user = UserFactory(role=Role.SCHEDULER, sites=[own_site])
    client = Client()
    client.force_login(user)
    assert client.get(reverse("core:home")).status_code == 200
    return user, client


def test_deactivating_a_user_ends_their_session(signed_in):
    user, client = signed_in
    user.is_active = False
    user.save()
    assert client.get(reverse("core:home")).status_code == 302
    assert client.get(reverse("core-api:me")).status_code in (401, 403)


def test_changing_the_password_ends_other_sessions(signed_in):
    user, client = signed_in
    user.set_password("a brand new passphrase 2026")
    user.save()
    response = client.get(reverse("core:home"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
