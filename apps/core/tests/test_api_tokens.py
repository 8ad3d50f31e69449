"""API keys cannot go around MFA: for roles that require it they are made only right after a
code; every key expires; a user lists and revokes their own (account settings, API keys)."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from apps.core.api_tokens import api_token_issue
from apps.core.mfa import SESSION_VERIFIED_AT
from apps.core.models import ApiToken
from apps.core.roles import Role

pytestmark = pytest.mark.django_db
ME = "/api/me/"


def call(client, key):
    return client.get(ME, HTTP_AUTHORIZATION=f"Token {key}")


def make_key(client, name="Nightly export"):
    response = client.post(reverse("core:api_tokens"), {"name": name})
    page = client.get(reverse("core:api_tokens"))
    return response, page


def new_key_on(page):
    return page.context["new_key"]["key"] if page.context["new_key"] else None


def test_a_scheduler_makes_a_key_sees_it_once_uses_it_and_revokes_it(client, make_user):
    user = make_user(Role.SCHEDULER)
    client.force_login(user)
    response, page = make_key(client)
    assert response.status_code == 302 and response.url == reverse("core:api_tokens")
    key = new_key_on(page)
    assert key and key in page.content.decode()
    assert key not in client.get(reverse("core:api_tokens")).content.decode()  # shown once
    token = ApiToken.objects.get(user=user)
    assert token.key_hash != key and token.key_prefix == key[:8]
    assert call(client.__class__(), key).status_code == 200

    listing = client.get(reverse("core:api_tokens")).content.decode()
    assert "Nightly export" in listing and "Active" in listing
    client.post(reverse("core:api_token_revoke", args=[token.pk]))
    assert call(client.__class__(), key).status_code == 401
    assert "Revoked — make a new key" in client.get(reverse("core:api_tokens")).content.decode()


def test_a_key_expires(client, make_user, settings):
    user = make_user(Role.SCHEDULER)
    _, key = api_token_issue(user=user, name="script", mfa_verified=False)
    assert call(client, key).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=settings.CLINOPS_API_TOKEN_DAYS, minutes=1)):
        response = call(client, key)
    assert response.status_code == 401 and "has expired" in response.json()["detail"]


def test_a_supervisor_without_a_fresh_code_is_sent_to_give_one(client, make_user):
    supervisor = make_user(Role.SUPERVISOR)
    TOTPDevice.objects.create(user=supervisor, name="phone", confirmed=True)
    client.force_login(supervisor)
    session = client.session
    session[SESSION_VERIFIED_AT] = (timezone.now() - timedelta(hours=1)).timestamp()
    session.save()
    response = client.post(reverse("core:api_tokens"), {"name": "Dashboard"})
    assert response.status_code == 302 and response.url.startswith(reverse("core:mfa_verify"))
    assert not ApiToken.objects.exists()


def test_a_supervisor_without_an_authenticator_is_sent_to_set_one_up(client, make_user):
    client.force_login(make_user(Role.SUPERVISOR))
    response = client.post(reverse("core:api_tokens"), {"name": "Dashboard"})
    assert response.status_code == 302 and response.url.startswith(reverse("core:mfa_setup"))
    assert not ApiToken.objects.exists()


def test_a_supervisor_right_after_a_code_gets_a_key_that_works(client, make_user):
    supervisor = make_user(Role.SUPERVISOR)
    device = TOTPDevice.objects.create(user=supervisor, name="phone", confirmed=True)
    client.force_login(supervisor)
    code = TOTP(device.bin_key).token()
    client.post(reverse("core:mfa_verify"), {"code": str(code).zfill(6)})
    _, page = make_key(client, "Dashboard")
    key = new_key_on(page)
    assert ApiToken.objects.get(user=supervisor).created_with_mfa
    assert call(client.__class__(), key).status_code == 200


def test_a_key_made_without_a_code_does_not_let_a_supervisor_in(client, make_user):
    user = make_user(Role.SCHEDULER)
    _, key = api_token_issue(user=user, name="made as a scheduler", mfa_verified=False)
    assert call(client, key).status_code == 200
    user.groups.add(Group.objects.get_or_create(name=Role.SUPERVISOR)[0])  # promoted: MFA now required
    assert call(client, key).status_code == 401
    legacy = Token.objects.create(user=user)  # DRF's never-expiring tokens are not accepted
    assert call(client, legacy.key).status_code == 401


def test_nobody_revokes_or_sees_another_users_key(client, make_user):
    mine = make_user(Role.SCHEDULER, username="me")
    theirs, _ = api_token_issue(user=make_user(Role.SCHEDULER, username="them"), name="theirs", mfa_verified=False)
    client.force_login(mine)
    assert client.post(reverse("core:api_token_revoke", args=[theirs.pk])).status_code == 404
    assert "theirs" not in client.get(reverse("core:api_tokens")).content.decode()
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
