"""Routing configuration (services/routes.py) and its admin, which saves through the service."""

from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from apps.core.errors import ApplicationError
from apps.core.roles import Role
from apps.ehr.services.sources import source_upsert
from apps.referrals.models import ReferralRoute
from apps.referrals.services import referral_route_upsert, routes
from tests.plugins.core import SiteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(db):
    return source_upsert(name="epic")[0]


def test_a_route_is_created_once_and_a_rerun_changes_nothing(source, own_site):
    route, created = referral_route_upsert(source=source, site=own_site, specialty="cardiology", by=None)
    again, created_again = referral_route_upsert(source=source, site=own_site, specialty="cardiology", by=None)
    assert created and not created_again and again.pk == route.pk
    assert ReferralRoute.objects.get().site == own_site


def test_an_upsert_moves_the_route_unless_told_to_keep_it(source, own_site, other_site):
    referral_route_upsert(source=source, site=own_site, by=None)
    kept, _ = referral_route_upsert(source=source, site=other_site, keep_existing=True, by=None)
    assert kept.site == own_site
    moved, created = referral_route_upsert(source=source, site=other_site, by=None)
    assert not created and moved.site == other_site and ReferralRoute.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"performer_ref": "12345"}, "invalid_performer"),
        ({"performer_ref": "http://x/y"}, "invalid_performer"),
        ({"specialty": "http://snomed.info/sct|394579002"}, "invalid_specialty"),
        ({"specialty": "cardio logy"}, "invalid_specialty"),
    ],
)
def test_a_route_that_could_never_match_is_refused(source, own_site, fields, code):
    with pytest.raises(ApplicationError) as refused:
        referral_route_upsert(source=source, site=own_site, by=None, **fields)
    assert refused.value.code == code and not ReferralRoute.objects.exists()


def test_a_route_to_a_closed_site_is_refused(source):
    closed = SiteFactory(code="closed", name="Closed Clinic", is_active=False)
    with pytest.raises(ApplicationError, match="not active"):
        referral_route_upsert(source=source, site=closed, by=None)


def test_only_an_integration_admin_changes_routes(source, own_site, make_user):
    with pytest.raises(PermissionDenied):
        referral_route_upsert(source=source, site=own_site, by=make_user(Role.SCHEDULER))
    route, _ = referral_route_upsert(
        source=source, site=own_site, performer_ref="Organization/cardio", by=make_user(Role.INTEGRATION_ADMIN)
    )
    assert route.performer_ref == "Organization/cardio"


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user(Role.INTEGRATION_ADMIN))
    return client


def form(source, site, **changes):
    return {"source": source.pk, "performer_ref": "", "specialty": "", "site": site.pk, "service_line": "", **changes}


def test_the_admin_saves_a_route_through_the_service(admin_client, source, own_site):
    with mock.patch("apps.referrals.admin.referral_route_save", wraps=routes.referral_route_save) as service:
        response = admin_client.post(reverse("admin:referrals_referralroute_add"), form(source, own_site))
    assert response.status_code == 302 and service.call_count == 1
    route = ReferralRoute.objects.get()
    url = reverse("admin:referrals_referralroute_change", args=[route.pk])
    assert admin_client.post(url, form(source, own_site, specialty="neurology")).status_code == 302
    assert ReferralRoute.objects.get().specialty == "neurology"


def test_the_admin_shows_what_is_wrong_with_a_route(admin_client, source, own_site):
    response = admin_client.post(
        reverse("admin:referrals_referralroute_add"), form(source, own_site, performer_ref="x")
    )
    assert response.status_code == 200 and "Organization/123" in response.content.decode()
    assert not ReferralRoute.objects.exists()
