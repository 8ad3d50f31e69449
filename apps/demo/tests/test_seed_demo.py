"""seed_demo (apps/demo): the demo users, re-runs, DEBUG off, and the governed demo map."""

import pytest
from django.core.management import call_command

from apps.core.models import ServiceLine, Site, User
from apps.core.roles import roles_of
from apps.demo.seeds.people import DEMO_PASSWORD, DEMO_USERS
from apps.demo.seeds.terminology import DEMO_MAP, DEMO_SYSTEM, REQUEST_PRIORITY
from apps.terminology.models import ConceptMapComment, ConceptMapVersion, UnmappedCode
from apps.terminology.translation import translate
from apps.terminology.workflow import State, four_eyes_problem

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


def test_the_demo_clinician_has_a_colleague_to_cover_the_inbox(settings):
    """Issue 14: "Cover while I'm away" offered nobody (one clinician in the demo)."""
    from apps.results.selectors import clinicians_at_sites

    settings.DEBUG = True
    call_command("seed_demo")
    clinician = User.objects.get(username="clinician")
    assert [u.username for u in clinicians_at_sites(user=clinician)] == ["clinician2"]


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


# Moved from apps/terminology/tests/test_reference.py with the demo content it checks.
def test_seed_demo_shows_a_governed_map_with_an_active_version_and_a_draft(settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    assert "Terminology: 8 canonical code systems" in capsys.readouterr().out
    versions = ConceptMapVersion.objects.filter(map__name=DEMO_MAP).order_by("number")
    assert [v.state for v in versions] == [State.ACTIVE, State.DRAFT]
    active, draft = versions
    assert active.approver.username == "steward" and not four_eyes_problem(active, active.approver)
    assert translate(DEMO_SYSTEM, "S", REQUEST_PRIORITY).target_code == "stat"
    assert draft.author.username == "steward" and draft.elements.filter(source_code="P").exists()
    assert UnmappedCode.objects.filter(system=DEMO_SYSTEM, resolved_at__isnull=True).count() == 2


def test_seed_demo_makes_every_map_through_change_control_with_four_eyes(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    active = ConceptMapVersion.objects.filter(state=State.ACTIVE).select_related("author", "approver", "map")
    assert {v.map.name for v in active} == {"north-ehr-priority", "snomed-specialty", "v3-result-interpretation"}
    for version in active:
        assert (version.author.username, version.submitted_by.username) == ("steward2", "steward2"), version.map
        assert (version.approver.username, version.activated_by.username) == ("steward", "steward"), version.map
        actions = list(version.comments.order_by("at", "pk").values_list("action", flat=True))
        assert actions == [
            ConceptMapComment.Action.DRAFT,
            ConceptMapComment.Action.SUBMIT,
            ConceptMapComment.Action.APPROVE,
            ConceptMapComment.Action.ACTIVATE,
        ], version.map
