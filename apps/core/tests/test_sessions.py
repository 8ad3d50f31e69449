"""Sign-in, lockout, idle timeout and absolute session lifetime."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from apps.core.middleware import BACKGROUND_HEADER
from apps.core.roles import Role
from tests.plugins.core import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
POLL = {"HTTP_" + BACKGROUND_HEADER.upper().replace("-", "_"): "1", "HTTP_HX_REQUEST": "true"}


def sign_in(client, username, password=PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR="10.0.0.7")


def test_sign_in_lands_on_home_with_the_roles_navigation(client, own_site):
    UserFactory(username="sam", role=Role.SCHEDULER, sites=[own_site])
    response = sign_in(client, "sam")
    assert response.status_code == 302 and response.url == reverse("core:home")
    page = client.get(reverse("core:home"))
    assert page.status_code == 200
    assert b"Scheduler" in page.content and b"Own Clinic" in page.content


def test_repeated_failures_lock_the_account_even_for_the_right_password(client, settings, own_site):
    UserFactory(username="sam", role=Role.SCHEDULER, sites=[own_site])
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert sign_in(client, "sam", "wrong-password-123").status_code in (200, 429)
    locked = sign_in(client, "sam")
    assert locked.status_code == 429
    assert b"Sign-in locked" in locked.content
    assert "_auth_user_id" not in client.session


def test_lockout_of_one_account_does_not_lock_another(client, settings, own_site):
    UserFactory(username="sam", role=Role.SCHEDULER, sites=[own_site])
    UserFactory(username="maya", role=Role.MEDICAL_ASSISTANT, sites=[own_site])
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "sam", "wrong-password-123")
    assert sign_in(client, "maya").status_code == 302


def test_wrong_password_shows_a_clear_message(client, own_site):
    UserFactory(username="sam", role=Role.SCHEDULER, sites=[own_site])
    response = sign_in(client, "sam", "not-it-at-all-1")
    assert response.status_code == 200
    assert b"did not match" in response.content


def test_background_polling_does_not_keep_an_idle_session_alive(client, own_site):
    UserFactory(username="sam", role=Role.SCHEDULER, sites=[own_site])
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, "sam")
        assert client.get(reverse("core:home")).status_code == 200
        for _ in range(14):  # the worklist refreshes every minute for 14 minutes
            clock.shift(timedelta(minutes=1))
            assert client.get(reverse("core:home"), **POLL).status_code == 200
        clock.shift(timedelta(minutes=2))  # 16 minutes after the last real activity
        polled = client.get(reverse("core:home"), **POLL)
        assert polled.headers.get("HX-Redirect", "").startswith(reverse("login"))
        assert "reason=idle" in polled.headers["HX-Redirect"]
        after = client.get(reverse("core:home"))
        assert after.status_code == 302 and after.url.startswith(reverse("login"))


def test_activity_is_saved_at_most_once_a_minute_and_still_keeps_the_session(client, own_site):
    UserFactory(username="sam", role=Role.SCHEDULER, sites=[own_site])
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, "sam")
        signed_in = client.session["clinops_last_activity"]
        clock.shift(timedelta(seconds=40))
        assert client.get(reverse("core:home")).status_code == 200
        assert client.session["clinops_last_activity"] == signed_in  # not written again within the minute
        clock.shift(timedelta(seconds=30))
        assert client.get(reverse("core:home")).status_code == 200
        assert client.session["clinops_last_activity"] == signed_in + 70  # a minute on: written
        clock.shift(timedelta(minutes=14, seconds=50))  # idle 14:50 since that page: still signed in
        assert client.get(reverse("core:home")).status_code == 200
        clock.shift(timedelta(minutes=16))
        response = client.get(reverse("core:home"))
        assert response.status_code == 302 and "reason=idle" in response.url


def test_real_activity_keeps_the_session_until_its_absolute_lifetime(client, settings, own_site):
    UserFactory(username="sam", role=Role.SCHEDULER, sites=[own_site])
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, "sam")
        elapsed = timedelta()
        while elapsed + timedelta(minutes=10) < settings.SESSION_ABSOLUTE_LIFETIME:
            clock.shift(timedelta(minutes=10))
            elapsed += timedelta(minutes=10)
            assert client.get(reverse("core:home")).status_code == 200, f"signed out after {elapsed}"
        clock.shift(timedelta(minutes=11))  # past the lifetime, though active 11 minutes ago
        response = client.get(reverse("core:home"))
        assert response.status_code == 302 and "reason=expired" in response.url


def test_idle_sign_out_explains_itself_on_the_login_page(client, own_site):
    response = client.get(reverse("login") + "?reason=idle")
    assert b"without activity" in response.content


def test_logout_needs_post_and_ends_the_session(client, own_site):
    user = UserFactory(role=Role.SCHEDULER, sites=[own_site])
    client.force_login(user)
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("core:home")).status_code == 302


def test_an_idle_api_session_gets_401_not_a_login_page(client, own_site):
    UserFactory(username="sam", role=Role.SCHEDULER, sites=[own_site])
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, "sam")
        assert client.get(reverse("core-api:me")).status_code == 200
        clock.shift(timedelta(minutes=20))
        response = client.get(reverse("core-api:me"))
        assert response.status_code == 401 and response["Content-Type"] == "application/json"


# --- after an idle sign-out, signing in again returns to the page the user was on ------------


def _idle(client, clock, username="sam"):
    sign_in(client, username)
    clock.shift(timedelta(minutes=16))


def test_signing_in_again_after_an_idle_sign_out_returns_to_the_page(client, own_site):
    UserFactory(username="sam", role=Role.SCHEDULER, sites=[own_site])
    page = reverse("core:site_detail", kwargs={"code": own_site.code}) + "?tab=team"
    with time_machine.travel(START, tick=False) as clock:
        _idle(client, clock)
        response = client.get(page)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
        login_page = client.get(response.url)
        assert "without activity" in login_page.content.decode()
        assert f'name="next" value="{page}"' in login_page.content.decode().replace("&amp;", "&")
        signed_in = client.post(response.url, {"username": "sam", "password": PASSWORD, "next": page})
        assert signed_in.status_code == 302 and signed_in.url == page


def test_an_htmx_request_returns_to_the_page_it_came_from_not_to_the_partial(client, own_site):
    UserFactory(username="sam", role=Role.SCHEDULER, sites=[own_site])
    with time_machine.travel(START, tick=False) as clock:
        _idle(client, clock)
        polled = client.get(
            reverse("core:home"), HTTP_HX_CURRENT_URL="http://testserver/referrals/?queue=triage", **POLL
        )
        target = polled.headers["HX-Redirect"]
        assert "reason=idle" in target and "next=%2Freferrals%2F%3Fqueue%3Dtriage" in target


@pytest.mark.parametrize(
    "how",
    [
        {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "https://evil.example.org/phish"},
        {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "//evil.example.org/phish"},
        {"HTTP_HX_REQUEST": "true"},  # no current URL: nowhere to return to
    ],
)
def test_an_htmx_request_from_elsewhere_gets_no_return_address(client, own_site, how):
    UserFactory(username="sam", role=Role.SCHEDULER, sites=[own_site])
    with time_machine.travel(START, tick=False) as clock:
        _idle(client, clock)
        target = client.get(reverse("core:home"), **how).headers["HX-Redirect"]
        assert "next=" not in target and "evil" not in target


def test_a_form_post_is_not_a_page_to_return_to(client, own_site):
    UserFactory(username="sam", role=Role.SCHEDULER, sites=[own_site])
    with time_machine.travel(START, tick=False) as clock:
        _idle(client, clock)
        response = client.post(reverse("core:home"), {"x": "1"})
        assert response.status_code == 302 and "reason=idle" in response.url and "next=" not in response.url
