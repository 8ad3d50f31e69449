import pytest
from django.core.management import call_command

from apps.core.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS
from apps.core.models import ServiceLine, Site, User
from apps.core.roles import roles_of

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_one_user_per_role_who_can_sign_in(settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo")
    out = capsys.readouterr().out
    for username, _, _, role, sites in DEMO_USERS:
        user = User.objects.get(username=username)
        assert user.check_password(DEMO_PASSWORD) and roles_of(user) == [role]
        assert sorted(user.sites.values_list("code", flat=True)) == sorted(sites)
        assert username in out


def test_seed_demo_twice_changes_nothing_and_keeps_a_changed_password(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    user = User.objects.get(username="scheduler")
    user.set_password("my-own-password-99")
    user.save()
    counts = (User.objects.count(), Site.objects.count(), ServiceLine.objects.count())
    call_command("seed_demo")
    assert (User.objects.count(), Site.objects.count(), ServiceLine.objects.count()) == counts
    assert User.objects.get(username="scheduler").check_password("my-own-password-99")


def test_seed_demo_refuses_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(Exception, match="refusing"):
        call_command("seed_demo")


def test_seed_demo_adds_a_compliance_officer_and_lets_the_scheduler_break_the_glass(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    assert User.objects.get(username="compliance").has_perm("core.view_audit_report")
    scheduler = User.objects.get(username="scheduler")
    assert scheduler.has_perm("core.use_emergency_access") and roles_of(scheduler) == ["scheduler"]
