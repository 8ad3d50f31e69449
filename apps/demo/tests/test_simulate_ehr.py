"""simulate_ehr: NDJSON files that ehr_import takes into the referral workflow, repeatably."""

from collections import Counter

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from apps.ehr.models import InboxMessage
from apps.referrals.models import Referral
from apps.workflow.models import Transition
from tests.plugins.shared_db import shared_data

NOW = "2026-11-25T08:00:00Z"


def files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_out_writes_one_ndjson_file_per_type_in_import_order(tmp_path):
    call_command("simulate_ehr", "--out", str(tmp_path), "--history", "10d", "--now", NOW, "--seed", "2")
    assert list(files(tmp_path)) == [
        "01-Organization.ndjson", "02-Location.ndjson", "03-Practitioner.ndjson", "04-PractitionerRole.ndjson",
        "05-Patient.ndjson", "06-ServiceRequest.ndjson", "07-Task.ndjson", "08-Appointment.ndjson",
        "09-Encounter.ndjson", "10-Observation.ndjson", "11-DiagnosticReport.ndjson",
        "12-QuestionnaireResponse.ndjson", "13-DocumentReference.ndjson",
    ]  # fmt: skip


def test_same_seed_same_files_another_seed_different(tmp_path):
    for name, seed in [("a", "5"), ("b", "5"), ("c", "6")]:
        call_command("simulate_ehr", "--out", str(tmp_path / name), "--history", "10d", "--now", NOW, "--seed", seed)
    assert files(tmp_path / "a") == files(tmp_path / "b")
    assert files(tmp_path / "a") != files(tmp_path / "c")


@pytest.mark.parametrize("url", ["http://example.org", "http://10.0.0.5:8000", "ftp://127.0.0.1", "http://127.0.0.2"])
def test_posting_anywhere_but_this_machine_is_refused(url):
    with pytest.raises(CommandError, match="this machine"):
        call_command("simulate_ehr", "--url", url, "--token", "t", "--count", "1")


def test_posting_needs_a_token(monkeypatch):
    monkeypatch.delenv("CLINOPS_DEMO_EHR_TOKEN", raising=False)
    with pytest.raises(CommandError, match="token"):
        call_command("simulate_ehr", "--url", "http://127.0.0.1:8000", "--count", "1")


def _history_imported(folder):
    """seed_demo, 30 days of simulated history written as NDJSON, imported by ehr_import (strict)."""

    def build():
        with override_settings(DEBUG=True):
            call_command("seed_demo")
            call_command("simulate_ehr", "--out", str(folder), "--history", "30d", "--now", NOW, "--per-day", "4")
            call_command("ehr_import", "--source", "demo-ehr", str(folder), "--strict")
        return folder

    return build


@pytest.fixture(scope="module")
def history(django_db_setup, django_db_blocker, tmp_path_factory):
    """The imported history, built once for this module's tests (each test's writes roll back)."""
    yield from shared_data(django_db_blocker, _history_imported(tmp_path_factory.mktemp("history")))


@pytest.mark.django_db
@pytest.mark.xdist_group("simulated_history")  # one worker builds the history once for both tests
@pytest.mark.timeout(600)  # the first of them also builds the history (about 45 s alone, minutes on a busy machine)
def test_history_flows_through_ehr_import_into_the_referral_workflow(history, settings):
    settings.DEBUG = True
    assert InboxMessage.objects.exclude(status=InboxMessage.Status.PROCESSED).count() == 0
    states = Counter(Referral.objects.values_list("state", flat=True))
    assert {"received", "scheduled", "completed", "cancelled"} <= set(states), states
    queues = Counter(Referral.objects.filter(is_open=True).values_list("queue", flat=True))
    assert queues["triage"] and queues["scheduled"] and queues["exceptions"], queues
    held = Referral.objects.filter(queue="exceptions")
    assert set(held.values_list("specialty", flat=True)) == {"http://snomed.info/sct|394582007"}
    assert set(Referral.objects.values_list("site__code", flat=True)) >= {"north", "south", "west"}

    before = (
        list(Referral.objects.order_by("pk").values_list("pk", "state", "queue", "priority", "appointment_ref")),
        Transition.objects.count(),
        InboxMessage.objects.count(),
    )
    call_command("ehr_import", "--source", "demo-ehr", str(history), "--strict")
    after = (
        list(Referral.objects.order_by("pk").values_list("pk", "state", "queue", "priority", "appointment_ref")),
        Transition.objects.count(),
        InboxMessage.objects.count(),
    )
    assert after == before


@pytest.mark.django_db
@pytest.mark.xdist_group("simulated_history")
@pytest.mark.timeout(600)
def test_staff_work_the_imported_referrals_through_the_services_once(history, settings):
    settings.DEBUG = True
    # The simulated staff act on what is due by the clock: hold it still across both runs, or an
    # item that falls due between them (a slow first run on a busy machine) is worked by the second.
    with time_machine.travel(timezone.now(), tick=False):
        call_command("simulate_ehr", "--staff")

        states = Counter(Referral.objects.values_list("state", flat=True))
        worked = {"triage", "accepted", "pending_auth", "scheduling", "declined", "needs_info", "abandoned"}
        assert len(worked & set(states)) >= 4
        staff = Transition.objects.filter(workflow="referral", source="staff")
        assert staff.filter(transition="triage").exists() and staff.filter(transition="accept").exists()
        # the scheduler works North Clinic only; West Clinic referrals are worked by the supervisor who covers it
        assert set(staff.filter(site__code="west").values_list("actor__username", flat=True)) == {"supervisor"}
        assert Referral.objects.filter(queue="exceptions").exclude(state="received").count() == 0

        before = (Transition.objects.count(), Counter(Referral.objects.values_list("state", flat=True)))
        call_command("simulate_ehr", "--staff")
        assert (Transition.objects.count(), Counter(Referral.objects.values_list("state", flat=True))) == before
