"""The per-item rollup gives the same KPI values as the full computation from the log, on
randomised histories (hypothesis): open, overdue (escalated), closed and reopened items,
reassignments and claims, over two sites; some transitions arrive after the rollup was built
(the incremental refresh), and periods end before, within and after the history."""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.kpis import rollup
from apps.kpis.definitions import kpi_all
from apps.kpis.engine import evaluate, item_values
from apps.kpis.models import RollupState
from apps.kpis.scope import Scope
from apps.workflow.models import Transition
from tests.plugins.referrals import ReferralFactory
from tests.plugins.results import result_make

pytestmark = pytest.mark.django_db
LOG_KPIS = [k for k in kpi_all() if k.source == "log" and k.snapshot is None]
BASE = datetime(2026, 3, 1, 12, tzinfo=UTC)

# (transition, to_state, source, role) per workflow: every closing state, reopening, escalation
# by the timer, and the bookkeeping moves (claim, reassign) that are not decisions.
STEPS = {
    "referral": [
        ("triage", "triage", "staff", "scheduler"),
        ("accept", "accepted", "staff", "clinician"),
        ("decline", "declined", "staff", "clinician"),
        ("escalate", "triage", "timer", ""),
        ("claim", "triage", "staff", "scheduler"),
        ("reassign", "triage", "staff", "supervisor"),
        ("start_scheduling", "scheduling", "staff", "scheduler"),
        ("schedule", "scheduled", "ehr", ""),
        ("unschedule", "scheduling", "staff", "scheduler"),
        ("complete", "completed", "ehr", ""),
        ("abandon", "abandoned", "staff", "scheduler"),
        ("cancel", "cancelled", "staff", "scheduler"),
    ],
    "result": [
        ("review", "reviewed", "staff", "clinician"),
        ("notify", "patient_notified", "staff", "medical_assistant"),
        ("escalate", "escalated", "timer", ""),
        ("reassign", "new", "staff", "supervisor"),
        ("close", "closed", "staff", "medical_assistant"),
        ("reopen", "new", "ehr", ""),
        ("void", "voided", "ehr", ""),
    ],
}


@st.composite
def histories(draw: Any) -> list[dict[str, Any]]:
    """Items, each: workflow, slot (which made item), site (0/1), opening hour, steps (index, hours after)."""
    items = []
    for _ in range(draw(st.integers(1, 10))):
        workflow = draw(st.sampled_from(["referral", "result"]))
        steps = draw(
            st.lists(
                st.tuples(st.integers(0, len(STEPS[workflow]) - 1), st.integers(0, 24 * 20), st.booleans()),
                max_size=6,
            )
        )
        items.append(
            {
                "workflow": workflow,
                "slot": draw(st.integers(0, 2)),
                "site": draw(st.integers(0, 1)),
                "opened": draw(st.integers(0, 24 * 40)),
                "recent": draw(st.booleans()) and workflow == "result",  # received in the last hours
                "steps": steps,  # (step, hours after the previous one, arrives after the rollup was built)
            }
        )
    return items


def _write(history: list[dict[str, Any]], made: dict[str, list[Any]], sites: list[Any], *, late: bool) -> None:
    rows = []
    used: set[tuple[str, int]] = set()
    for item in history:
        pool = made[item["workflow"]]
        obj = pool[item["slot"]]
        if (item["workflow"], obj.pk) in used:
            continue  # one history per item
        used.add((item["workflow"], obj.pk))
        site = sites[item["site"]]
        if item["recent"]:
            at = timezone.now() - timedelta(minutes=30 + 37 * item["opened"] % 3000)
        else:
            at = BASE + timedelta(hours=item["opened"])
        first = "receive", "received" if item["workflow"] == "referral" else "new", "ehr", ""
        for n, (name, to_state, source, role) in enumerate(
            [first, *[STEPS[item["workflow"]][i] for i, _, _ in item["steps"]]]
        ):
            if n:
                _, hours, arrives_late = item["steps"][n - 1]
                at += timedelta(hours=hours, minutes=7)
            else:
                arrives_late = False
            if arrives_late == late:
                rows.append(
                    Transition(
                        workflow=item["workflow"],
                        item_id=obj.pk,
                        site_id=site.pk,
                        transition=name,
                        from_state="",
                        to_state=to_state,
                        source=source,
                        actor_role=role,
                        at=at,
                    )
                )
    Transition.objects.bulk_create(rows)


def _compare(scope: Scope) -> None:
    with_rollup = evaluate(LOG_KPIS, scope)
    with mock.patch.object(rollup, "rollup_refresh", return_value=False):
        full = evaluate(LOG_KPIS, scope)
        full_values = item_values(LOG_KPIS, scope)
    for kpi in LOG_KPIS:
        a, b = with_rollup[kpi.key], full[kpi.key]
        assert (a.value, a.n, a.weeks) == (b.value, b.n, b.weeks), kpi.key
    rolled_values = item_values(LOG_KPIS, scope)
    for key, values in full_values.items():
        assert sorted(rolled_values[key]) == sorted(values), key


def _items(site: Any) -> dict[str, Any]:
    """Items a history is about (their facts are joined: outreach attempts, criticality)."""
    return {
        "referral": [ReferralFactory(site=site, outreach_attempts=n) for n in (0, 2, 5)],
        "result": [result_make(site, criticality=c) for c in ("critical", "abnormal", "normal")],
    }


@pytest.fixture
def made(own_site, other_site) -> dict[str, Any]:
    return {**_items(own_site), "sites": [own_site, other_site]}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories(), start=st.integers(0, 70), days=st.integers(1, 40), both=st.booleans())
def test_the_rollup_gives_the_full_computation(made, history, start, days, both):
    # The log is append-only (a trigger on PostgreSQL): each example is about new items, and the
    # earlier examples' items stay in the history too.
    sites = made["sites"]
    items = _items(sites[0])
    RollupState.objects.all().delete()
    _write(history, items, sites, late=False)
    rollup.rollup_rebuild()
    _write(history, items, sites, late=True)  # after the build: read by the incremental refresh
    first = date(2026, 2, 25) + timedelta(days=start)
    scope = Scope(first, first + timedelta(days=days - 1), tuple(sites if both else sites[:1]))
    _compare(scope)
    today = timezone.localdate()
    _compare(Scope(today - timedelta(days=6), today, tuple(sites)))  # a week ending today: recent results


def test_without_a_rollup_the_scorecard_computes_from_the_log(made):
    """No rollup built (or built with other definitions): the log is read, the answer is the same."""
    assert rollup.rollup_refresh() is False
    RollupState.objects.create(fingerprint="other", built_at=timezone.now(), refreshed_at=timezone.now())
    assert rollup.rollup_refresh() is False


def test_a_refresh_reads_only_the_changed_items(made):
    referral = made["referral"][1]
    site = made["sites"][0]
    log = {"workflow": "referral", "item_id": referral.pk, "site_id": site.pk, "from_state": "", "source": "ehr"}
    Transition.objects.create(**log, transition="receive", to_state="received", at=BASE)
    assert rollup.rollup_rebuild() == 1
    Transition.objects.create(**log, transition="decline", to_state="declined", at=BASE + timedelta(hours=5))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT closed_at FROM {rollup.TABLE}")  # noqa: S608
        assert cursor.fetchone()[0] is None  # not read yet
        assert rollup.rollup_refresh() is True
        cursor.execute(f"SELECT COUNT(*), MAX(closed_at) FROM {rollup.TABLE}")  # noqa: S608
        count, closed = cursor.fetchone()
    assert count == 1 and closed is not None
    state = RollupState.objects.get()
    assert state.last_id == Transition.objects.latest("id").pk
