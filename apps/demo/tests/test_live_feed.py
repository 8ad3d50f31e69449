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


def test_make_run_says_when_its_first_page_answers(live_server):
    import socket

    from django.urls import reverse

    from apps.demo.live import first_page_wait, ready_line

    assert first_page_wait(live_server.url + reverse("login"), timeout=10)
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{free.getsockname()[1]}/login/"
    assert not first_page_wait(closed, timeout=1)  # nothing listens there: not ready, and it gives up
    line = ready_line("http://127.0.0.1:8000/", started=1000.0, now=1042.4)
    assert line.startswith("clinops is ready: http://127.0.0.1:8000/") and "42 s after make run started" in line
