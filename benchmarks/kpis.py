"""KPI scorecard speed at scale, on PostgreSQL (run by hand, not by the tests).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinops_bench_kpis \
        .venv/bin/python benchmarks/kpis.py [--referrals 1000000] [--keep]

Fills 1,000,000 referrals over 20 sites with the set-based fill of ``worklist.py``, spreads
them over a year, and writes 5 transitions each (5,000,000 rows: receive, triage, accept or
decline, start_scheduling or escalate, schedule or abandon), with roles and EHR/staff sources.
Builds the per-item rollup (``apps.kpis.rollup``; timed), refreshes it after 1,000 new
transitions (timed), then times, interleaved round by round in the same run:
  - the full scorecard (every registered KPI: apps.kpis.selectors.scorecard_get) for one site
    over a quarter and for all sites over a year;
  - one raw ``percentile_cont`` pass over the same durations (time to triage, hand-written SQL);
  - the scorecard computed from the log without the rollup (``--no-full`` skips it);
and checks that the scorecard gives the same values with and without the rollup.
Targets (issue 17): the all-sites one-year scorecard ≤ 3× the raw pass, one site-quarter ≤ 1.5×.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/clinops_bench_kpis"
os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
os.environ["DJANGO_SETTINGS_MODULE"] = "clinops.settings.test"

from benchmarks.worklist import fill as worklist_fill  # noqa: E402
from benchmarks.worklist import recreate_database  # noqa: E402

TRANSITIONS = """
INSERT INTO workflow_transition (workflow, item_id, site_id, transition, from_state, to_state, queue, priority,
    actor_role, source, at, reason, correlation_id)
SELECT 'referral', r.id, r.site_id,
  (ARRAY['receive', 'triage', CASE WHEN r.id % 10 = 0 THEN 'decline' ELSE 'accept' END,
         CASE WHEN r.id % 7 = 0 THEN 'escalate' ELSE 'start_scheduling' END,
         CASE WHEN r.id % 17 = 0 THEN 'abandon' ELSE 'schedule' END])[s + 1],
  (ARRAY['', 'received', 'triage', 'accepted', 'scheduling'])[s + 1],
  (ARRAY['received', 'triage', CASE WHEN r.id % 10 = 0 THEN 'declined' ELSE 'accepted' END, 'scheduling',
         CASE WHEN r.id % 17 = 0 THEN 'abandoned' ELSE 'scheduled' END])[s + 1],
  'triage', 'routine',
  (ARRAY['', 'scheduler', 'clinician', 'scheduler', 'scheduler'])[s + 1],
  (ARRAY['ehr', 'staff', 'staff', 'staff', 'ehr'])[s + 1],
  r.opened_at + (ARRAY[0, 60 + r.id % 1800, 600 + r.id % 4000, 3000 + r.id % 9000, 9000 + r.id % 30000])[s + 1]
    * interval '1 minute',
  '', ''
FROM referrals_referral r CROSS JOIN generate_series(0, 4) s
"""

RAW = """
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v), COUNT(*) FROM (
  SELECT EXTRACT(EPOCH FROM MIN(t.at) FILTER (WHERE t.transition IN ('accept', 'decline')) - MIN(r.opened_at)) AS v,
         MIN(t.at) FILTER (WHERE t.transition IN ('accept', 'decline')) AS decided
  FROM workflow_transition t JOIN referrals_referral r ON r.id = t.item_id
  WHERE t.workflow = 'referral' AND t.site_id = ANY(%s) AND t.at < %s
  GROUP BY t.item_id
) x WHERE decided >= %s AND decided < %s
"""


# Columns added since ``worklist.py``'s set-based fill was written are NOT NULL without a
# database default, so its INSERTs need one (bench database only): false, 0, '' or an empty JSON.
FILLED_TABLES = (
    "ehr_ehrsource", "core_site", "ehr_appointment", "ehr_patient", "ehr_servicerequest", "intake_intake",
    "intake_intakecheck", "referrals_referral", "results_resultitem", "workflow_transition",
)  # fmt: skip
EMPTY = {"boolean": "false", "integer": "0", "bigint": "0", "smallint": "0", "double precision": "0",
         "jsonb": "'{}'::jsonb", "character varying": "''", "text": "''"}  # fmt: skip


def fill(referrals: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as c:
        c.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_name = ANY(%s)"
            " AND is_nullable = 'NO' AND column_default IS NULL AND column_name <> 'id'",
            [list(FILLED_TABLES)],
        )
        for table, column, kind in c.fetchall():
            if kind in EMPTY:
                c.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET DEFAULT {EMPTY[kind]}')
    worklist_fill(referrals, 0, open_items=int(referrals * 0.3))
    t0 = time.perf_counter()
    with connection.cursor() as c:
        c.execute(
            "UPDATE referrals_referral SET opened_at = now() - (id % 365) * interval '1 day'"
            " - (id % 1440) * interval '1 minute'"
        )
        c.execute(TRANSITIONS)
        c.execute("VACUUM ANALYZE")
    print(f"spread referrals over a year and wrote 5 transitions each in {time.perf_counter() - t0:.0f}s")


def interleaved(fns: dict[str, object], runs: int) -> dict[str, float]:
    """Median ms of each function, run in turn within each round (the machine's load hits all alike)."""
    for fn in fns.values():
        fn()  # warm
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1000)
    return {name: statistics.median(ms) for name, ms in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--referrals", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="reuse the filled database")
    parser.add_argument("--no-full", action="store_true", help="skip timing the scorecard without the rollup")
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    if not args.keep:
        recreate_database(url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from apps.core.models import Site
    from apps.kpis import rollup
    from apps.kpis.engine import WORK_MEM
    from apps.kpis.scope import Scope, local_bounds
    from apps.kpis.selectors import scorecard_get

    if not args.keep:
        fill(args.referrals)
    call_command("migrate", verbosity=0)
    with connection.cursor() as c:
        c.execute("SELECT COUNT(*) FROM workflow_transition")
        print(f"{c.fetchone()[0]:,} transition rows; load average {os.getloadavg()[0]:.2f}")
    t0 = time.perf_counter()
    items = rollup.rollup_rebuild()
    print(f"per-item rollup built from the whole log: {items:,} items in {time.perf_counter() - t0:.1f}s")
    with connection.cursor() as c:  # 1,000 new transitions on 1,000 open referrals: the incremental refresh
        c.execute(
            "INSERT INTO workflow_transition (workflow, item_id, site_id, transition, from_state, to_state, queue,"
            " priority, actor_role, source, at, reason, correlation_id) SELECT workflow, item_id, site_id, 'claim',"
            " to_state, to_state, queue, priority, 'scheduler', 'staff', now(), '', '' FROM workflow_transition"
            " WHERE to_state = 'triage' ORDER BY id DESC LIMIT 1000"
        )
    t0 = time.perf_counter()
    rollup.rollup_refresh()
    print(f"incremental refresh after 1,000 new transitions: {(time.perf_counter() - t0) * 1000:.0f} ms")

    today = timezone.localdate()
    sites = tuple(Site.objects.order_by("id"))
    cases = {
        "one site, one quarter": Scope(today - timedelta(days=90), today, sites[:1]),
        "all sites, one year": Scope(today - timedelta(days=364), today, sites),
    }
    limits = {"one site, one quarter": 1.5, "all sites, one year": 3.0}
    print(f"\n{args.runs} rounds each, interleaved (median ms)")
    for label, scope in cases.items():
        lo, hi = local_bounds(scope.start, scope.end, sites[0].timezone)

        def raw(scope=scope, lo=lo, hi=hi, tuned=False) -> None:
            with transaction.atomic(), connection.cursor() as c:
                if tuned:  # the session settings the scorecard statement runs with
                    c.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
                    c.execute("SET LOCAL jit = off")
                c.execute(RAW, [scope.site_ids, hi, lo, hi])
                c.fetchall()

        def without_rollup(scope=scope) -> None:
            with mock.patch.object(rollup, "rollup_refresh", return_value=False):
                scorecard_get(scope)

        fns = {
            "card": lambda scope=scope: scorecard_get(scope),
            "raw": raw,
            "tuned": lambda raw=raw: raw(tuned=True),
        }
        if not args.no_full:
            fns["full"] = without_rollup
        ms = interleaved(fns, args.runs)
        card, one, tuned = ms["card"], ms["raw"], ms["tuned"]
        limit = limits[label]
        verdict = "met" if card <= limit * min(one, tuned) else "MISSED"
        print(f"  {label:<24} scorecard {card:8.0f} ms   raw percentile_cont {one:8.0f} ms "
              f"({tuned:.0f} ms with the scorecard's work_mem/jit) → {card / one:.2f}× / {card / tuned:.2f}× "
              f"(target ≤ {limit:g}×: {verdict})")  # fmt: skip
        if "full" in ms:
            print(f"    without the rollup (computed from the log): {ms['full']:.0f} ms → {ms['full'] / one:.2f}×")
        values = scorecard_get(scope)
        with mock.patch.object(rollup, "rollup_refresh", return_value=False):
            full = scorecard_get(scope)
        # Computed a little later: the open items' age ("now") may have moved on meanwhile.
        differ = [
            f"{a.kpi.key} {a.value} / {b.value}"
            for ga, gb in zip(values.values(), full.values(), strict=True)
            for a, b in zip(ga, gb, strict=True)
            if (a.value, a.n, a.weeks) != (b.value, b.n, b.weeks)
        ]
        same = "yes" if not differ else "differ: " + "; ".join(differ)
        shown = ", ".join(f"{r.kpi.key}={r.value}" for group in values.values() for r in group)
        print(f"    same values with and without the rollup: {same}\n    {shown}")


if __name__ == "__main__":
    main()
