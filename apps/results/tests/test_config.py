"""Where results go (services/config.py): the results pool and clinician links, and their admin,
which saves through the services."""

from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from apps.core.errors import ApplicationError
from apps.core.roles import Role
from apps.ehr.services.sources import source_upsert
from apps.results.models import ClinicianLink, ResultSite
from apps.results.services import clinician_link_upsert, config, result_site_upsert
from tests.plugins.core import SiteFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(db):
    return source_upsert(name="epic")[0]


def test_a_results_pool_is_created_once_and_moved_unless_kept(source, own_site, other_site):
    pool, created = result_site_upsert(source=source, site=own_site, by=None)
    _, created_again = result_site_upsert(source=source, site=own_site, by=None)
    assert created and not created_again
    assert result_site_upsert(source=source, site=other_site, keep_existing=True, by=None)[0].site == own_site
    assert result_site_upsert(source=source, site=other_site, by=None)[0].site == other_site
    assert ResultSite.objects.get().pk == pool.pk


def test_a_results_pool_at_a_closed_site_is_refused(source):
    closed = SiteFactory(code="closed", name="Closed Clinic", is_active=False)
    with pytest.raises(ApplicationError, match="not active"):
        result_site_upsert(source=source, site=closed, by=None)
    assert not ResultSite.objects.exists()


def test_a_clinician_link_is_created_once_and_moved_unless_kept(source, own_site, make_user):
    first, second = make_user(Role.CLINICIAN), make_user(Role.CLINICIAN)
    link, created = clinician_link_upsert(
        source=source, practitioner_ref="Practitioner/p1", user=first, site=own_site, by=None
    )
    _, created_again = clinician_link_upsert(
        source=source, practitioner_ref="Practitioner/p1", user=first, site=own_site, by=None
    )
    assert created and not created_again
    kept, _ = clinician_link_upsert(
        source=source, practitioner_ref="Practitioner/p1", user=second, site=own_site, keep_existing=True, by=None
    )
    assert kept.user == first
    moved, _ = clinician_link_upsert(
        source=source, practitioner_ref="Practitioner/p1", user=second, site=own_site, by=None
    )
    assert moved.user == second and ClinicianLink.objects.get().pk == link.pk


@pytest.mark.parametrize("reference", ["p1", "Organization/o1", "Practitioner/", "https://ehr/Practitioner/p1", ""])
def test_a_link_that_could_never_match_a_result_is_refused(source, own_site, make_user, reference):
    with pytest.raises(ApplicationError) as refused:
        clinician_link_upsert(
            source=source, practitioner_ref=reference, user=make_user(Role.CLINICIAN), site=own_site, by=None
        )
    assert refused.value.code == "invalid_practitioner" and not ClinicianLink.objects.exists()


def test_only_who_may_change_the_configuration_does(source, own_site, make_user):
    with pytest.raises(PermissionDenied):
        result_site_upsert(source=source, site=own_site, by=make_user(Role.SUPERVISOR))
    with pytest.raises(PermissionDenied):
        clinician_link_upsert(
            source=source, practitioner_ref="Practitioner/p1", user=make_user(Role.CLINICIAN), site=own_site,
            by=make_user(Role.SUPERVISOR),
        )  # fmt: skip


@pytest.fixture
def admin_client(client, own_site):
    client.force_login(UserFactory(is_superuser=True, is_staff=True, sites=[own_site]))
    return client


def test_the_admin_saves_links_and_pools_through_the_services(admin_client, source, own_site, make_user):
    clinician = make_user(Role.CLINICIAN)
    link = {"source": source.pk, "practitioner_ref": "Practitioner/p1", "user": clinician.pk, "site": own_site.pk}
    with mock.patch("apps.results.admin.clinician_link_save", wraps=config.clinician_link_save) as service:
        assert admin_client.post(reverse("admin:results_clinicianlink_add"), link).status_code == 302
    assert service.call_count == 1 and ClinicianLink.objects.get().user == clinician
    with mock.patch("apps.results.admin.result_site_save", wraps=config.result_site_save) as service:
        pool = {"source": source.pk, "site": own_site.pk}
        assert admin_client.post(reverse("admin:results_resultsite_add"), pool).status_code == 302
    assert service.call_count == 1 and ResultSite.objects.get().site == own_site


def test_the_admin_shows_what_is_wrong_with_a_link(admin_client, source, own_site, make_user):
    link = {
        "source": source.pk,
        "practitioner_ref": "dr-who",
        "user": make_user(Role.CLINICIAN).pk,
        "site": own_site.pk,
    }
    response = admin_client.post(reverse("admin:results_clinicianlink_add"), link)
    assert response.status_code == 200 and "Practitioner/123" in response.content.decode()
    assert not ClinicianLink.objects.exists()
