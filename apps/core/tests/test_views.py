import re

import pytest
from django.urls import reverse

from apps.core.roles import Role
from tests.plugins.core import UserFactory

pytestmark = pytest.mark.django_db


def test_signed_in_pages_are_never_cached(client, own_site):
    client.force_login(UserFactory(role=Role.SCHEDULER, sites=[own_site]))
    for url in (reverse("core:home"), reverse("core:site_detail", args=["own"]), reverse("core-api:me")):
        cache_control = client.get(url).headers.get("Cache-Control", "")
        assert "no-store" in cache_control and "private" in cache_control, url


def test_the_site_cards_list_only_my_sites_in_their_local_time(client, own_site, other_site):
    client.force_login(UserFactory(role=Role.SCHEDULER, sites=[own_site]))
    page = client.get(reverse("core:sites")).content.decode()
    assert "Own Clinic" in page and "Other Hospital" not in page
    # The zone in words with its offset now (winter or summer time), not its database name.
    assert re.search(r"New York time, UTC\u2212(05|04):00", page) and "America/New_York" not in page


def test_a_site_in_utc_says_utc_and_a_zone_east_of_it_a_plus():
    from apps.core.models import Site

    assert Site(timezone="UTC").timezone_label == "UTC"
    assert Site(timezone="Asia/Kolkata").timezone_label == "Kolkata time, UTC+05:30"


def test_navigation_depends_on_the_role(client, own_site):
    client.force_login(UserFactory(role=Role.INTEGRATION_ADMIN, sites=[own_site]))
    assert 'href="/admin/"' in client.get(reverse("core:sites")).content.decode()
    client.force_login(UserFactory(role=Role.SCHEDULER, sites=[own_site]))
    assert 'href="/admin/"' not in client.get(reverse("core:sites")).content.decode()


def test_site_page_shows_the_team_by_role(client, own_site):
    me = UserFactory(role=Role.SCHEDULER, sites=[own_site], first_name="Sam", last_name="Rivera")
    UserFactory(role=Role.CLINICIAN, sites=[own_site], first_name="Lena", last_name="Okafor")
    client.force_login(me)
    page = client.get(reverse("core:site_detail", args=["own"])).content.decode()
    assert "Clinician" in page and "Lena Okafor" in page and "Sam Rivera" in page


def test_state_changes_need_a_csrf_token(own_site):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(role=Role.SCHEDULER, sites=[own_site]))
    assert client.post(reverse("logout")).status_code == 403


def test_me_api_answers_roles_and_sites_by_token(own_site):
    from rest_framework.test import APIClient

    from apps.core.api_tokens import api_token_issue

    user = UserFactory(role=Role.LEADER, sites=[own_site])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=user, name='test', mfa_verified=True)[1]}")
    body = api.get(reverse("core-api:me")).json()
    assert body["roles"] == [Role.LEADER]
    assert body["sites"] == [{"code": "own", "name": "Own Clinic", "timezone": "America/New_York"}]
    assert body["can_see_patient_data"] is False


def test_healthz_says_ok_without_login(client):
    assert client.get(reverse("healthz")).json() == {"status": "ok"}
