"""MFA through the real flow: password → code step; setup with QR and recovery codes; re-verification."""

from binascii import unhexlify

import pytest
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.core.mfa import SESSION_PENDING_KEY
from apps.core.roles import Role
from tests.plugins.core import PASSWORD, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("real_mfa")]


def sign_in(client, username):
    return client.post(reverse("login"), {"username": username, "password": PASSWORD})


def code_for(key: str, offset: int = 0) -> str:
    totp = TOTP(unhexlify(key))
    totp.time += offset
    return f"{totp.token():06d}"


def enrol(client) -> tuple[str, list[str]]:
    """Go through the setup page as the signed-in user; returns the secret and the recovery codes."""
    page = client.get(reverse("core:mfa_setup"))
    assert page.status_code == 200 and b"data:image/svg+xml" in page.content
    key = client.session[SESSION_PENDING_KEY]
    done = client.post(reverse("core:mfa_setup"), {"code": code_for(key)})
    assert done.status_code == 200
    return key, done.context["codes"]


def test_a_supervisor_without_mfa_must_set_it_up_before_anything_else(client, own_site):
    UserFactory(username="sue", role=Role.SUPERVISOR, sites=[own_site])
    assert sign_in(client, "sue").status_code == 302
    home = client.get(reverse("core:home"))
    assert home.status_code == 302 and home.url.startswith(reverse("core:mfa_setup"))
    api = client.get(reverse("core-api:me"))
    assert api.status_code == 403
    _, codes = enrol(client)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get(reverse("core:home")).status_code == 200


@pytest.mark.parametrize("role", [Role.TERMINOLOGY_STEWARD, Role.INTEGRATION_ADMIN])
def test_admin_staff_roles_are_held_at_setup_too(client, own_site, role):
    UserFactory(username="tess", role=role, sites=[own_site])
    sign_in(client, "tess")
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response.url.startswith(reverse("core:mfa_setup"))


def test_a_scheduler_may_work_without_mfa(client, own_site):
    UserFactory(username="sam", role=Role.SCHEDULER, sites=[own_site])
    sign_in(client, "sam")
    assert client.get(reverse("core:home")).status_code == 200


def enrolled_and_signed_in_again(client, own_site) -> str:
    """Sam sets up MFA, signs out and in again: the session waits at the code step. Returns the key."""
    UserFactory(username="sam", role=Role.SCHEDULER, sites=[own_site])
    sign_in(client, "sam")
    key, _ = enrol(client)
    client.post(reverse("logout"))
    sign_in(client, "sam")
    return key


def test_once_set_up_every_sign_in_asks_for_a_code_and_a_wrong_one_is_refused(client, own_site, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # guessing is throttled: see the next test
    key = enrolled_and_signed_in_again(client, own_site)
    held = client.get(reverse("core:site_detail", kwargs={"code": own_site.code}))
    assert held.status_code == 302 and held.url.startswith(reverse("core:mfa_verify"))
    wrong = client.post(reverse("core:mfa_verify"), {"code": "000000" if code_for(key) != "000000" else "111111"})
    assert wrong.status_code == 400 and b"not right" in wrong.content
    assert client.get(reverse("core:home")).status_code == 302
    ok = client.post(reverse("core:mfa_verify"), {"code": code_for(key), "next": f"/sites/{own_site.code}/"})
    assert ok.status_code == 302 and ok.url == f"/sites/{own_site.code}/"
    assert client.get(reverse("core:home")).status_code == 200


def test_guessing_is_throttled_even_the_right_code_waits_after_a_wrong_one(client, own_site):
    key = enrolled_and_signed_in_again(client, own_site)
    client.post(reverse("core:mfa_verify"), {"code": "000000" if code_for(key) != "000000" else "111111"})
    assert client.post(reverse("core:mfa_verify"), {"code": code_for(key)}).status_code == 400


def test_the_code_step_does_not_redirect_to_another_host(client, own_site):
    key = enrolled_and_signed_in_again(client, own_site)
    ok = client.post(reverse("core:mfa_verify"), {"code": code_for(key), "next": "https://evil.example/"})
    assert ok.status_code == 302 and ok.url == reverse("core:home")


def test_a_recovery_code_works_exactly_once(client, own_site):
    UserFactory(username="sue", role=Role.SUPERVISOR, sites=[own_site])
    sign_in(client, "sue")
    _, codes = enrol(client)
    for attempt in range(2):
        client.post(reverse("logout"))
        sign_in(client, "sue")
        response = client.post(reverse("core:mfa_verify"), {"code": codes[0]})
        if attempt == 0:
            assert response.status_code == 302
            assert client.get(reverse("core:home")).status_code == 200
        else:
            assert response.status_code == 400


def test_changing_mfa_settings_asks_for_a_fresh_code(client, own_site, settings):
    UserFactory(username="sam", role=Role.SCHEDULER, sites=[own_site])
    sign_in(client, "sam")
    key, codes = enrol(client)
    settings.CLINOPS_MFA_REVERIFY_SECONDS = -1  # the last verification counts as old
    again = client.post(reverse("core:mfa_recovery_codes"))
    assert again.status_code == 302 and "reason=reverify" in again.url
    turned_off = client.post(reverse("core:mfa_turn_off"))
    assert turned_off.status_code == 302 and "reason=reverify" in turned_off.url
    assert TOTPDevice.objects.filter(user__username="sam").exists()

    settings.CLINOPS_MFA_REVERIFY_SECONDS = 300
    client.post(reverse("core:mfa_verify"), {"code": code_for(key, offset=30)})
    new = client.post(reverse("core:mfa_recovery_codes"))
    assert new.status_code == 200 and set(new.context["codes"]).isdisjoint(codes)
    assert client.post(reverse("core:mfa_turn_off")).status_code == 302
    assert not TOTPDevice.objects.filter(user__username="sam").exists()


def test_a_supervisor_cannot_turn_mfa_off(client, own_site):
    UserFactory(username="sue", role=Role.SUPERVISOR, sites=[own_site])
    sign_in(client, "sue")
    enrol(client)
    assert client.post(reverse("core:mfa_turn_off")).status_code == 403
    assert TOTPDevice.objects.filter(user__username="sue", confirmed=True).exists()


def test_a_wrong_setup_code_keeps_the_offered_secret(client, own_site):
    UserFactory(username="sam", role=Role.SCHEDULER, sites=[own_site])
    sign_in(client, "sam")
    client.get(reverse("core:mfa_setup"))
    key = client.session[SESSION_PENDING_KEY]
    bad = client.post(reverse("core:mfa_setup"), {"code": "12ab"})
    assert bad.status_code == 400 and b"does not match" in bad.content
    assert client.session[SESSION_PENDING_KEY] == key
    assert not TOTPDevice.objects.exists()


def test_force_login_shortcut_is_off_in_these_tests(client, own_site):
    user = UserFactory(username="sue", role=Role.SUPERVISOR, sites=[own_site])
    client.force_login(user)
    assert client.get(reverse("core:home")).status_code == 302
