"""The hash chain over the change audit and the access log, and ``manage.py audit_verify``."""

from datetime import timedelta

import pytest
import time_machine
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from apps.core import audit_chain
from apps.core.access_log import access_log_record
from apps.core.audit_chain import MODELS, UNSEALED_GRACE, audit_seal_pending, audit_verify, seal_rows
from apps.core.models import AccessLog, AuditSeal
from apps.core.roles import Role
from apps.core.services import site_upsert
from tests.plugins.core import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(own_site, django_capture_on_commit_callbacks):
    """Three access-log rows and a change-audit row, written the way the application writes them."""
    user = UserFactory(role=Role.CLINICIAN, sites=[own_site])
    seal_earlier_rows()
    with django_capture_on_commit_callbacks(execute=True):
        return _write(user, own_site)


def seal_earlier_rows():
    """The test's own setup rows: in real use their commits would have sealed them."""
    for kind, model in MODELS.items():
        seal_rows(kind, list(model.objects.order_by("pk").values_list("pk", flat=True)))


def _write(user, own_site):
    rows = [
        access_log_record(user=user, patient=f"Patient/p{n}", what=f"referral:{n}", site=own_site) for n in range(3)
    ]
    site_upsert(code="own", name="Own Clinic East", timezone="America/New_York", service_lines=[])
    return rows


def tamper(sql: str, params: list) -> None:
    """Change the database behind the application's back, as a table owner could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A superuser/owner can skip triggers; the chain must still tell.
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = DEFAULT")


def test_every_row_is_sealed_and_the_chain_verifies(history, capsys):
    assert AuditSeal.objects.filter(kind="access").count() == AccessLog.objects.count() == 3
    assert AuditSeal.objects.filter(kind="change").count() == LogEntry.objects.count() >= 1
    assert list(audit_verify()) == []
    call_command("audit_verify")
    assert "audit chain intact" in capsys.readouterr().out


def test_an_altered_access_row_is_found(history):
    tamper("UPDATE core_accesslog SET patient = %s WHERE id = %s", ["Patient/someone-else", history[1].pk])
    problems = list(audit_verify())
    assert [(p.kind, p.row_id, p.message) for p in problems] == [("access", history[1].pk, "the row was altered")]
    with pytest.raises(CommandError, match="1 problem"):
        call_command("audit_verify")


def test_a_deleted_access_row_is_found(history):
    tamper("DELETE FROM core_accesslog WHERE id = %s", [history[0].pk])
    assert [p.message for p in audit_verify()] == ["the row was deleted"]


def test_an_altered_change_audit_row_is_found(history):
    entry = LogEntry.objects.latest("id")
    tamper("UPDATE auditlog_logentry SET object_repr = %s WHERE id = %s", ["nothing to see", entry.pk])
    assert [(p.kind, p.row_id) for p in audit_verify()] == [("change", entry.pk)]


def test_deleting_a_row_together_with_its_seal_breaks_the_chain(history):
    seal = AuditSeal.objects.get(kind="access", row_id=history[1].pk)
    tamper("DELETE FROM core_accesslog WHERE id = %s", [history[1].pk])
    tamper("DELETE FROM core_auditseal WHERE id = %s", [seal.pk])
    assert any("chain is broken" in p.message for p in audit_verify())


def test_rewriting_a_row_and_its_seal_still_breaks_the_chain(history):
    from apps.core.audit_chain import row_hash

    tamper("UPDATE core_accesslog SET what = %s WHERE id = %s", ["referral:999", history[0].pk])
    values = AccessLog.objects.filter(pk=history[0].pk).values().get()
    tamper(
        "UPDATE core_auditseal SET row_hash = %s WHERE kind = 'access' AND row_id = %s",
        [row_hash("access", values), history[0].pk],
    )
    assert any("chain is broken" in p.message for p in audit_verify())


def test_a_rolled_back_row_is_never_sealed(own_site, django_capture_on_commit_callbacks):
    user = UserFactory(role=Role.CLINICIAN, sites=[own_site])
    seal_earlier_rows()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            access_log_record(user=user, patient="Patient/p1", what="referral:1", site=own_site)
            raise RuntimeError("the view failed")
        kept = access_log_record(user=user, patient="Patient/p2", what="referral:2", site=own_site)
    assert list(AuditSeal.objects.filter(kind="access").values_list("row_id", flat=True)) == [kept.pk]
    assert list(audit_verify()) == []


def test_a_row_written_past_the_application_has_no_seal(history, own_site):
    AccessLog.objects.bulk_create([AccessLog(user=history[0].user, patient="Patient/x", what="referral:7")])
    assert list(audit_verify()) == []  # the sweep may not have run yet
    with time_machine.travel(timezone.now() + UNSEALED_GRACE + timedelta(minutes=1)):
        assert [p.message for p in audit_verify()] == ["the row has no seal (written past the application)"]


def test_a_writer_that_finds_the_chain_busy_leaves_the_row_to_the_sweep(own_site, monkeypatch):
    user = UserFactory(role=Role.CLINICIAN, sites=[own_site])
    seal_earlier_rows()
    monkeypatch.setattr(audit_chain, "_chain_lock", lambda *, wait: wait)  # busy for writers that do not wait
    row = access_log_record(user=user, patient="Patient/p1", what="referral:1", site=own_site)
    assert not AuditSeal.objects.filter(kind="access", row_id=row.pk).exists()
    assert audit_seal_pending() == 1
    assert AuditSeal.objects.filter(kind="access", row_id=row.pk).exists()
    assert list(audit_verify()) == [] and audit_seal_pending() == 0


def test_a_list_pages_access_rows_are_written_at_once_and_sealed_by_the_sweep(client, own_site):
    from django.urls import reverse

    from tests.plugins.referrals import ReferralFactory

    user = UserFactory(role=Role.SCHEDULER, sites=[own_site])
    shown = ReferralFactory(site=own_site)
    seal_earlier_rows()
    client.force_login(user)
    assert client.get(reverse("referrals:worklist")).status_code == 200
    row = AccessLog.objects.get(user=user, what=f"referral:{shown.pk}")  # logged in the request itself
    assert not AuditSeal.objects.filter(kind="access", row_id=row.pk).exists()
    assert list(audit_verify()) == []  # within the sweep's window: not a problem yet
    assert audit_seal_pending() >= 1  # the sweep (beat, every minute)
    assert AuditSeal.objects.filter(kind="access", row_id=row.pk).exists()
    assert list(audit_verify()) == []
    with time_machine.travel(timezone.now() + UNSEALED_GRACE + timedelta(minutes=1)):
        assert list(audit_verify()) == []  # sealed in time: nothing reported later either


@pytest.mark.postgres
@pytest.mark.parametrize("table", ["core_auditseal", "core_accesslog", "auditlog_logentry"])
@pytest.mark.parametrize("statement", ["UPDATE {table} SET id = id", "DELETE FROM {table}"])
def test_the_application_role_cannot_rewrite_audit_tables(history, table, statement):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement.format(table=table))


@pytest.mark.postgres
@pytest.mark.timeout(60)
def test_a_writer_never_waits_for_the_chain_held_by_another_transaction(transactional_db, own_site):
    import psycopg

    user = UserFactory(role=Role.CLINICIAN, sites=[own_site])
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [audit_chain.CHAIN_LOCK_KEY])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")  # waiting for the chain would fail the test
        try:
            row = access_log_record(user=user, patient="Patient/p1", what="referral:1", site=own_site)
        finally:
            other.execute("SELECT pg_advisory_unlock(%s)", [audit_chain.CHAIN_LOCK_KEY])
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = 0")
    assert not AuditSeal.objects.filter(kind="access", row_id=row.pk).exists()
    audit_seal_pending()
    assert AuditSeal.objects.filter(kind="access", row_id=row.pk).exists()
