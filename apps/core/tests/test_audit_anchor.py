"""The chain's tail, anchored outside the database: cutting the newest rows with their seals, or
editing the newest row and deleting its seal, verifies by the chain alone; ``audit_verify
--anchor`` finds both. And the sweep never re-seals a row older than its window."""

from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.core.audit_chain import SWEEP_WINDOW, audit_anchor_write, audit_seal_pending, audit_verify
from apps.core.models import AuditSeal
from apps.core.tasks import audit_anchor

from .test_audit_chain import history, tamper  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def anchor(tmp_path, settings):
    settings.CLINOPS_AUDIT_ANCHOR_FILE = str(tmp_path / "audit-anchor.log")
    return tmp_path / "audit-anchor.log"


def test_the_head_is_appended_only_when_it_moves(history, anchor):  # noqa: F811
    assert audit_anchor() is True
    assert audit_anchor() is False  # nothing new
    head = AuditSeal.objects.latest("id")
    assert f'"seal":{head.pk},"chain_hash":"{head.chain_hash}"' in anchor.read_text()
    assert list(audit_verify(anchor=anchor)) == []


def test_cutting_the_newest_rows_and_their_seals_is_found_with_the_anchor(history, anchor):  # noqa: F811
    audit_anchor_write()
    tables = {"access": "core_accesslog", "change": "auditlog_logentry"}
    for seal in AuditSeal.objects.order_by("-id")[:3]:  # the three newest rows, seals and all
        tamper("DELETE FROM core_auditseal WHERE id = %s", [seal.pk])
        tamper(f"DELETE FROM {tables[seal.kind]} WHERE id = %s", [seal.row_id])  # noqa: S608
    assert list(audit_verify()) == []  # the chain alone cannot tell
    problems = [p.message for p in audit_verify(anchor=anchor)]
    assert len(problems) == 1 and "is gone: the chain's tail was cut" in problems[0]
    with pytest.raises(CommandError, match="1 problem"):
        call_command("audit_verify", "--anchor", str(anchor))


def test_an_edited_newest_row_whose_seal_was_deleted_is_found_though_the_sweep_seals_it_again(
    history,  # noqa: F811
    anchor,
):
    newest = AuditSeal.objects.latest("id")
    audit_anchor_write()
    model_table = {"access": "core_accesslog", "change": "auditlog_logentry"}[newest.kind]
    column = {"access": "what", "change": "object_repr"}[newest.kind]
    tamper(f"UPDATE {model_table} SET {column} = %s WHERE id = %s", ["nothing to see", newest.row_id])  # noqa: S608
    tamper("DELETE FROM core_auditseal WHERE id = %s", [newest.pk])
    assert audit_seal_pending() == 1  # still within the sweep window: sealed again, as edited
    assert list(audit_verify()) == []
    assert [p.seal_id for p in audit_verify(anchor=anchor)] == [newest.pk]


def test_the_sweep_never_reseals_a_row_older_than_its_window(history):  # noqa: F811
    newest = AuditSeal.objects.latest("id")
    tamper("DELETE FROM core_auditseal WHERE id = %s", [newest.pk])  # the newest: the chain stays whole
    with time_machine.travel(timezone.now() + SWEEP_WINDOW + timedelta(minutes=1)):
        assert audit_seal_pending() == 0
        problems = [(p.kind, p.row_id, p.message) for p in audit_verify()]
    assert problems == [(newest.kind, newest.row_id, "the row has no seal (written past the application)")]
    assert not AuditSeal.objects.filter(kind=newest.kind, row_id=newest.row_id).exists()


def test_an_unreadable_or_empty_anchor_file_is_a_problem_not_a_pass(history, tmp_path):  # noqa: F811
    assert "cannot be read" in next(iter(audit_verify(anchor=tmp_path / "missing.log"))).message
    (tmp_path / "empty.log").write_text("")
    assert "holds no anchor" in next(iter(audit_verify(anchor=tmp_path / "empty.log"))).message
