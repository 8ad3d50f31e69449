import pytest

from apps.core.models import AccessLog, Site
from apps.core.roles import Role
from apps.core.scoping import scope_to_sites, site_ids_for
from tests.plugins.core import SiteFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_scope_keeps_only_rows_at_the_users_sites(own_site, other_site):
    user = UserFactory(role=Role.SCHEDULER, sites=[own_site])
    for site in (own_site, other_site):
        AccessLog.objects.create(user=user, patient="Patient/1", what=f"test:{site.code}", site=site)
    scoped = scope_to_sites(AccessLog.objects.all(), user)
    assert [row.what for row in scoped] == ["test:own"]


def test_inactive_site_and_inactive_user_see_nothing(own_site):
    closed = SiteFactory(code="closed", is_active=False)
    user = UserFactory(role=Role.SCHEDULER, sites=[own_site, closed])
    assert site_ids_for(user) == {own_site.id}
    user.is_active = False
    user.save()
    assert site_ids_for(type(user).objects.get(pk=user.pk)) == set()


def test_user_without_sites_sees_nothing(own_site):
    user = UserFactory(role=Role.SCHEDULER, sites=[])
    assert scope_to_sites(Site.objects.all(), user, site_field="id").count() == 0


def test_superuser_sees_every_active_site(own_site, other_site):
    admin = UserFactory(is_superuser=True, sites=[])
    assert site_ids_for(admin) == {own_site.id, other_site.id}
