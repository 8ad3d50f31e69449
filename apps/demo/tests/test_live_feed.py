"""simulate_ehr --url: a live feed posted to the real webhook of a running clinops."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from apps.ehr.models import InboxMessage
from apps.ehr.services.sources import source_upsert
from apps.referrals.models import Referral


@pytest.fixture
def demo_token(transactional_db, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    _, token = source_upsert(name="demo-ehr", rotate_token=True)
    return token


def test_a_live_feed_arrives_through_the_webhook_stamped_now_and_stops_at_count(live_server, demo_token):
    started = datetime.now(UTC) - timedelta(seconds=1)
    call_command(
        "simulate_ehr", "--url", live_server.url, "--token", demo_token, "--rate", "0", "--count", "80", "--seed", "9"
    )
    messages = InboxMessage.objects.filter(source__name="demo-ehr")
    assert messages.count() == 80
    assert not messages.exclude(status=InboxMessage.Status.PROCESSED).exists()
    assert all(m.ehr_last_updated >= started for m in messages)
    assert Referral.objects.filter(source__name="demo-ehr").exists()


def test_a_wrong_token_stops_the_feed_with_a_clear_error(live_server, demo_token):
    with pytest.raises(CommandError, match="refused the token"):
        call_command("simulate_ehr", "--url", live_server.url, "--token", "wrong", "--rate", "0", "--count", "3")
    assert not InboxMessage.objects.exists()


def test_a_live_feed_after_the_history_brings_new_referrals(live_server, demo_token, tmp_path):
    call_command("simulate_ehr", "--out", str(tmp_path), "--history", "10d", "--per-day", "3")
    call_command("ehr_import", "--source", "demo-ehr", str(tmp_path))
    before = Referral.objects.count()
    call_command("simulate_ehr", "--url", live_server.url, "--token", demo_token, "--rate", "0", "--count", "120")
    assert Referral.objects.count() > before
