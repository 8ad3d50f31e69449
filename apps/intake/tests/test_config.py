"""The per-site intake switch (services/config.py) and its admin, which saves through the service."""

from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from apps.core.errors import ApplicationError
from apps.core.roles import Role
from apps.ehr.services.sources import source_upsert
from apps.intake.models import IntakeSite
from apps.intake.services import config, intake_site_upsert
from tests.plugins.core import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(db):
    return source_upsert(name="epic")[0]


def test_intake_is_switched_on_once_and_changed_unless_kept(source, own_site):
    made, created = intake_site_upsert(
        site=own_site, source=source, enabled=True, location_refs=["Location/a"], by=None
    )
    _, created_again = intake_site_upsert(
        site=own_site, source=source, enabled=True, location_refs=["Location/a"], by=None
    )
    assert created and not created_again
    kept, _ = intake_site_upsert(
        site=own_site, source=source, enabled=False, location_refs=[], keep_existing=True, by=None
    )
    assert kept.enabled and kept.location_refs == ["Location/a"]
    changed, _ = intake_site_upsert(site=own_site, source=source, enabled=False, location_refs=["Location/b"], by=None)
    assert not changed.enabled and changed.location_refs == ["Location/b"] and IntakeSite.objects.get().pk == made.pk


@pytest.mark.parametrize(
    ("locations", "code"),
    [
        (["north-main"], "invalid_locations"),
        (["Organization/o1"], "invalid_locations"),
        ("Location/a", "invalid_locations"),
        (["Location/a", "Location/a"], "duplicate_location"),
    ],
)
def test_locations_that_are_not_location_references_are_refused(source, own_site, locations, code):
    with pytest.raises(ApplicationError) as refused:
        intake_site_upsert(site=own_site, source=source, enabled=True, location_refs=locations, by=None)
    assert refused.value.code == code and not IntakeSite.objects.exists()


def test_an_appointments_site_can_never_be_ambiguous(source, own_site, other_site):
    intake_site_upsert(site=own_site, source=source, enabled=True, location_refs=[], by=None)
    with pytest.raises(ApplicationError) as refused:
        intake_site_upsert(site=other_site, source=source, enabled=True, location_refs=[], by=None)
    assert refused.value.code == "duplicate_default"
    intake_site_upsert(site=own_site, source=source, enabled=True, location_refs=["Location/a"], by=None)
    with pytest.raises(ApplicationError) as refused:
        intake_site_upsert(site=other_site, source=source, enabled=True, location_refs=["Location/a"], by=None)
    assert refused.value.code == "location_taken" and "Own Clinic" in refused.value.message
    intake_site_upsert(site=other_site, source=source, enabled=True, location_refs=["Location/b"], by=None)
    assert IntakeSite.objects.count() == 2


def test_only_who_may_change_the_switch_does(source, own_site, make_user):
    with pytest.raises(PermissionDenied):
        intake_site_upsert(site=own_site, source=source, enabled=True, location_refs=[], by=make_user(Role.SUPERVISOR))


@pytest.fixture
def admin_client(client, own_site):
    client.force_login(UserFactory(is_superuser=True, is_staff=True, sites=[own_site]))
    return client


def form(source, site, **changes):
    return {"site": site.pk, "enabled": "on", "source": source.pk, "location_refs": '["Location/a"]', **changes}


def test_the_admin_switches_intake_through_the_service(admin_client, source, own_site):
    with mock.patch("apps.intake.admin.intake_site_save", wraps=config.intake_site_save) as service:
        assert admin_client.post(reverse("admin:intake_intakesite_add"), form(source, own_site)).status_code == 302
    assert service.call_count == 1
    made = IntakeSite.objects.get()
    assert made.enabled and made.location_refs == ["Location/a"]
    url = reverse("admin:intake_intakesite_change", args=[made.pk])
    assert admin_client.post(url, form(source, own_site, location_refs="")).status_code == 302  # blank: the default
    assert IntakeSite.objects.get().location_refs == []


def test_the_admin_shows_what_is_wrong_with_the_locations(admin_client, source, own_site):
    response = admin_client.post(reverse("admin:intake_intakesite_add"), form(source, own_site, location_refs='["a"]'))
    assert response.status_code == 200 and "Location/north-main" in response.content.decode()
    assert not IntakeSite.objects.exists()
