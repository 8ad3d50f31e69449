"""Every governance page, filled with data, speaks plain words (no internal code, snake_case word or
address on screen)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.core.roles import Role
from apps.governance.models import FrictionReport, RolloutSwitch, WorkaroundFlag, WorkflowOwner
from apps.governance.services import friction_respond
from tests.plugins.plain_words import internal_words
from tests.plugins.referrals import ReferralFactory

pytestmark = pytest.mark.django_db


def test_the_governance_pages_show_no_internal_word(client, make_user, own_site):
    supervisor = make_user(Role.SUPERVISOR)
    scheduler = make_user(Role.SCHEDULER)
    referral = ReferralFactory(site=own_site)
    WorkflowOwner.objects.create(site=own_site, workflow="referral", duty="support", user=supervisor, set_by=supervisor)
    report = FrictionReport.objects.create(
        reporter=scheduler, site=own_site, workflow="referral", note="Slow", item_id=referral.pk, severity="high"
    )
    friction_respond(report_id=report.pk, by=supervisor, status="wont_fix", reply="By design")
    RolloutSwitch.objects.create(site=own_site, workflow="result", phase="pilot")
    for rule in ["booked_untriaged", "closed_untouched", "ping_pong", "side_channel", "double_entry"]:
        WorkaroundFlag.objects.create(
            workflow="referral", item_id=referral.pk, site=own_site, rule=rule, reason="Why", at=timezone.now()
        )
    pages = [
        reverse("governance:owners", args=[own_site.code]),
        reverse("governance:friction_queue") + "?status=all",
        reverse("governance:friction_detail", args=[report.pk]),
        reverse("governance:rollout"),
        reverse("governance:rollout_detail", args=[own_site.code, "referral"]),
        reverse("governance:rollout_detail", args=[own_site.code, "result"]),
        reverse("governance:workarounds"),
    ]
    client.force_login(supervisor)
    found = {}
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        if words := internal_words(response.content.decode()):
            found[url] = words
    client.force_login(scheduler)
    mine = client.get(reverse("governance:friction_mine")).content.decode()
    assert "Won&#x27;t fix" in mine and "By design" in mine
    if words := internal_words(mine):
        found["mine"] = words
    assert not found, found
