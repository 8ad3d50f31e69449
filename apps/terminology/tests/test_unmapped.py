"""The unmapped-codes queue: recording sightings, and resolution when a mapping becomes active."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.terminology.models import UnmappedCode
from apps.terminology.services import unmapped_record
from tests.plugins.terminology import LOCAL, activated, priority_map, row

pytestmark = pytest.mark.django_db


def test_a_code_is_counted_with_first_and_last_sighting():
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        first = unmapped_record(LOCAL, "P", "Pre-op", "inbox:1")
    with time_machine.travel(start + timedelta(hours=3), tick=False):
        unmapped_record(LOCAL, "P", "", "inbox:2")
        again = unmapped_record(LOCAL, "P", "Pre-operative", "inbox:3")
    assert (again.pk, again.count, again.display, again.example) == (first.pk, 3, "Pre-operative", "inbox:3")
    assert (again.first_seen, again.last_seen, again.resolved_at) == (start, start + timedelta(hours=3), None)


def test_the_same_message_recorded_twice_counts_once():
    unmapped_record(LOCAL, "P", "Pre-op", "inbox:7")
    unmapped_record(LOCAL, "P", "Pre-op", "inbox:7")  # a retried message
    assert UnmappedCode.objects.get().count == 1
    unmapped_record(LOCAL, "P", "Pre-op", "inbox:8")
    unmapped_record(LOCAL, "P", "Pre-op", "")  # no reference: every call counts
    assert UnmappedCode.objects.get().count == 3


def test_a_racing_first_sighting_becomes_an_increment(monkeypatch):
    """Two workers meet the code at once: the one whose INSERT loses increments instead."""
    real_update = UnmappedCode.objects.filter(system=LOCAL).update.__func__
    calls = []

    def update_after_the_other_worker_inserted(self, **changes):
        if not calls:  # the other worker's INSERT lands between this worker's UPDATE and INSERT
            calls.append(1)
            UnmappedCode.objects.create(system=LOCAL, code="P", example="inbox:1")
            return 0
        return real_update(self, **changes)

    monkeypatch.setattr(type(UnmappedCode.objects.all()), "update", update_after_the_other_worker_inserted)
    code = unmapped_record(LOCAL, "P", "Pre-op", "inbox:2")
    assert (code.count, code.example) == (2, "inbox:2")


def test_activating_a_mapping_resolves_the_code_and_a_new_sighting_reopens_it(steward_a, steward_b):
    unmapped_record(LOCAL, "P", "Pre-op", "inbox:1")
    unmapped_record(LOCAL, "X", "", "inbox:2")
    unmapped_record("http://other.example.org/cs", "P", "", "inbox:3")
    version = activated(priority_map(), [row("P", "urgent", "wider")], author=steward_a, approver=steward_b)
    resolved = UnmappedCode.objects.get(system=LOCAL, code="P")
    assert resolved.resolved_at is not None and resolved.resolved_by_version == version
    assert UnmappedCode.objects.filter(resolved_at__isnull=True).count() == 2  # X, and P of another system
    again = unmapped_record(LOCAL, "P", "Pre-op", "inbox:9")
    assert (again.resolved_at, again.count) == (None, 2)
