import pytest
from django.contrib.auth.models import Group

from apps.core.roles import ROLE_PERMISSIONS, Role, can_see_patient_data, roles_of, roles_sync
from tests.plugins.core import UserFactory

pytestmark = pytest.mark.django_db


def test_every_role_is_a_group_with_its_permissions_after_migrate():
    for role, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        got = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
        assert got == set(perms)


def test_roles_sync_removes_a_permission_granted_by_hand():
    group = Group.objects.get(name=Role.LEADER)
    group.permissions.add(Group.objects.get(name=Role.SCHEDULER).permissions.get(codename="view_patient_data"))
    roles_sync()
    assert not group.permissions.filter(codename="view_patient_data").exists()


def test_leader_sees_aggregates_but_no_patient_data(own_site):
    leader = UserFactory(role=Role.LEADER, sites=[own_site])
    assert leader.has_perm("core.view_aggregates")
    assert not can_see_patient_data(leader)


def test_leader_who_is_also_a_clinician_sees_patient_data(own_site):
    user = UserFactory(role=Role.LEADER, sites=[own_site])
    user.groups.add(Group.objects.get(name=Role.CLINICIAN))
    user = type(user).objects.get(pk=user.pk)  # drop the permission cache
    assert can_see_patient_data(user)
    assert roles_of(user) == [Role.CLINICIAN, Role.LEADER]


@pytest.mark.parametrize("role", [Role.SCHEDULER, Role.MEDICAL_ASSISTANT, Role.CLINICIAN, Role.SUPERVISOR])
def test_patient_facing_roles_see_patient_data(role, own_site):
    assert can_see_patient_data(UserFactory(role=role, sites=[own_site]))


@pytest.mark.parametrize("role", [Role.TERMINOLOGY_STEWARD, Role.INTEGRATION_ADMIN, Role.LEADER])
def test_other_roles_do_not(role, own_site):
    assert not can_see_patient_data(UserFactory(role=role, sites=[own_site]))


def test_a_permission_granted_to_the_user_counts_with_those_of_their_roles_read_in_one_query(
    own_site, django_assert_num_queries
):
    from django.contrib.auth.models import Permission

    user = UserFactory(role=Role.LEADER, sites=[own_site])
    user.user_permissions.add(Permission.objects.get(codename="view_patient_data"))
    user = type(user).objects.get(pk=user.pk)  # a fresh request's user
    with django_assert_num_queries(1):
        assert user.has_perm("core.view_aggregates")  # the role's
        assert can_see_patient_data(user)  # granted by hand
        assert roles_of(user) == [Role.LEADER]
    bare = type(user).objects.get(pk=UserFactory(sites=[own_site]).pk)
    assert roles_of(bare) == [] and not bare.has_perm("core.view_aggregates")
