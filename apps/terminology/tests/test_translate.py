"""translate(): answers from the in-memory table, kept current in this process and in others."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import DatabaseError, connection

from apps.terminology import translation
from apps.terminology.models import TranslationGeneration
from apps.terminology.services import version_activate, version_approve, version_retire
from apps.terminology.translation import Outcome, translate, translate_many, translation_cache_expire
from tests.plugins.terminology import LOCAL, PRIORITY, activated, activated_now, in_review, priority_map, row

pytestmark = pytest.mark.django_db

ROWS = [row("S", "stat"), row("R", "routine"), row("T"), row("O", "urgent", "wider"), row("O", "asap", "wider")]


@pytest.fixture
def mapped(steward_a, steward_b, django_capture_on_commit_callbacks):
    return activated_now(
        priority_map(), ROWS, author=steward_a, approver=steward_b, hooks=django_capture_on_commit_callbacks
    )


def test_a_mapped_code(mapped):
    result = translate(LOCAL, "S", PRIORITY)
    assert (result.outcome, result.mapped, result.target_code) == (Outcome.MAPPED, True, "stat")
    assert (result.map_url, result.map_version) == (mapped.map.url, 1)
    assert result.matches[0].relationship == "equivalent"


def test_a_code_the_map_says_has_no_equivalent(mapped):
    result = translate(LOCAL, "T", PRIORITY)
    assert (result.outcome, result.mapped, result.target_code, result.matches) == (Outcome.NOT_MAPPED, False, None, ())
    assert "has no equivalent" in result.message


def test_a_code_the_map_does_not_know(mapped):
    result = translate(LOCAL, "stat", PRIORITY)  # codes are case-sensitive: "stat" is not "S"
    assert (result.outcome, result.mapped, result.target_code) == (Outcome.UNMAPPED, False, None)


def test_a_code_with_two_targets_does_not_guess(mapped):
    result = translate(LOCAL, "O", PRIORITY)
    assert result.mapped and result.target_code is None
    assert [(m.code, m.relationship) for m in result.matches] == [("urgent", "wider"), ("asap", "wider")]


def test_no_active_map_for_the_pair_is_none(mapped):
    assert translate(LOCAL, "S", "http://example.org/other") is None
    assert translate("http://example.org/unknown", "S", PRIORITY) is None


def test_a_canonical_code_translates_to_itself_when_active(mapped):
    assert translate(PRIORITY, "asap", PRIORITY).target_code == "asap"
    assert translate(PRIORITY, "soon", PRIORITY).outcome is Outcome.UNMAPPED


def test_translate_many_keeps_the_order(mapped):
    results = translate_many([(LOCAL, "R"), (LOCAL, "X"), ("http://nowhere", "R"), (PRIORITY, "stat")], PRIORITY)
    assert [r and (r.outcome, r.target_code) for r in results] == [
        (Outcome.MAPPED, "routine"),
        (Outcome.UNMAPPED, None),
        None,
        (Outcome.MAPPED, "stat"),
    ]


def test_a_lookup_is_a_dictionary_read_not_a_query(mapped, django_assert_num_queries):
    translate(LOCAL, "S", PRIORITY)  # loads the table
    with django_assert_num_queries(0):
        started = time.perf_counter()
        for _ in range(10_000):
            translate(LOCAL, "S", PRIORITY)
        per_lookup = (time.perf_counter() - started) / 10_000
    assert per_lookup < 50e-6, f"{per_lookup * 1e6:.1f} µs per lookup"


def test_activation_is_served_in_this_process_right_after_commit(
    mapped, steward_a, steward_b, django_capture_on_commit_callbacks
):
    assert translate(LOCAL, "R", PRIORITY).target_code == "routine"
    version = in_review(mapped.map, [row("S", "stat"), row("R", "urgent")], author=steward_a)
    version_approve(version_id=version.pk, by=steward_b)
    with django_capture_on_commit_callbacks(execute=True):
        version_activate(version_id=version.pk, by=steward_b)
    result = translate(LOCAL, "R", PRIORITY)
    assert (result.target_code, result.map_version) == ("urgent", 2)
    assert translate(LOCAL, "T", PRIORITY).outcome is Outcome.UNMAPPED  # T is not in version 2


def test_retiring_the_active_version_stops_its_translations(mapped, steward_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        version_retire(version_id=mapped.pk, by=steward_a, reason="The EHR no longer sends these")
    assert translate(LOCAL, "S", PRIORITY) is None


def test_another_process_sees_the_change_within_the_check_interval(mapped, steward_a, steward_b, monkeypatch):
    """Another process committed an activation (this one heard nothing): the generation row tells it."""
    clock = [1000.0]
    monkeypatch.setattr(translation.time, "monotonic", lambda: clock[0])
    assert translate(LOCAL, "R", PRIORITY).target_code == "routine"
    # Activated "elsewhere": the database changed, but no after-commit callback ran here.
    activated(mapped.map, [row("S", "stat"), row("R", "urgent")], author=steward_a, approver=steward_b)
    clock[0] += translation.DEFAULT_CHECK_SECONDS - 1
    assert translate(LOCAL, "R", PRIORITY).target_code == "routine"  # within the interval: not checked yet
    clock[0] += 1
    assert translate(LOCAL, "R", PRIORITY).target_code == "urgent"


def test_a_counter_that_came_round_again_is_not_taken_for_current(mapped, steward_a, steward_b):
    """After a rollback (tests do it all the time) the counter can reach the same value with other rows."""
    assert translate(LOCAL, "R", PRIORITY).target_code == "routine"
    value = TranslationGeneration.objects.get().value
    activated(mapped.map, [row("S", "stat"), row("R", "urgent")], author=steward_a, approver=steward_b)
    TranslationGeneration.objects.update(value=value)
    translation_cache_expire()
    assert translate(LOCAL, "R", PRIORITY).target_code == "urgent"


def test_when_the_database_cannot_be_read_the_table_keeps_serving(mapped, monkeypatch, caplog):
    clock = [1000.0]
    monkeypatch.setattr(translation.time, "monotonic", lambda: clock[0])
    translate(LOCAL, "S", PRIORITY)

    def down():
        raise DatabaseError("connection refused")

    monkeypatch.setattr(translation, "_generation_read", down)
    clock[0] += 60
    assert translate(LOCAL, "S", PRIORITY).target_code == "stat"
    assert "cannot check the translation table" in caplog.text


# --- a real second process (PostgreSQL: SQLite's test database lives in this process's memory) ---

WORKER = """
import sys, django
django.setup()
from django.conf import settings
settings.TERMINOLOGY_CACHE_CHECK_SECONDS = 0.2
from apps.terminology.translation import translate
for line in sys.stdin:
    result = translate("{local}", line.strip(), "{priority}")
    print(result.target_code if result else "none", flush=True)
"""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_separate_process_picks_up_an_activation(steward_a, steward_b):
    concept_map = priority_map()
    activated(concept_map, [row("R", "routine")], author=steward_a, approver=steward_b)
    db = connection.settings_dict
    url = (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "clinops.settings.test"}
    worker = subprocess.Popen(  # noqa: S603 - this interpreter, our own script
        [sys.executable, "-c", WORKER.format(local=LOCAL, priority=PRIORITY)],
        cwd=Path(settings.BASE_DIR),
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:

        def ask(code):
            worker.stdin.write(code + "\n")
            worker.stdin.flush()
            return worker.stdout.readline().strip()

        assert ask("R") == "routine"
        activated(concept_map, [row("R", "urgent")], author=steward_a, approver=steward_b)
        time.sleep(0.3)
        assert ask("R") == "urgent"
    finally:
        worker.stdin.close()
        worker.wait(timeout=10)
