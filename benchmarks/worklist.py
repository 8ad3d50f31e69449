"""Worklist speed at scale, on PostgreSQL (run by hand, not by the tests).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinops_bench_worklist \
        .venv/bin/python benchmarks/worklist.py [--referrals 1000000] [--transitions 5000000] [--keep]

Fills 1,000,000 referrals (300,000 open over 20 sites) and 5,000,000 transition rows with
set-based SQL, then times, for a scheduler of two sites:
  - the worklist request through Django (test client: middleware, auth, selectors, template):
    first page, a deep page (cursor 10,000 rows in), a filtered page — p50 / p95 over runs;
  - the ORM query alone (apps.workflow.selectors.worklist_page) against the same page as
    hand-written raw SQL through psycopg, in the same run: the ratio;
  - queries per page at page sizes 25 and 100 (must not grow with the page size).
Targets (issue 5): first page p95 ≤ 50 ms; deep page ≤ 1.5× first; ORM ≤ 6× raw SQL.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/clinops_bench_worklist"
os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
os.environ["DJANGO_SETTINGS_MODULE"] = "clinops.settings.test"


def recreate_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def fill(referrals: int, transitions: int, sites: int = 20, open_items: int = 300_000) -> None:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as c:
        c.execute("INSERT INTO ehr_ehrsource (name, base_url, is_active, auth_type, bearer_token, client_id, token_url,"
                  " private_key_pem, key_id, scope, webhook_token_hash, webhook_token_hint, poll_enabled,"
                  " poll_resource_types, poll_interval_seconds, use_bulk_export, created_at, updated_at)"
                  " VALUES ('bench', '', true, 'none', '', '', '', '', '', '', '', '', false, '[]', 300, false, now(), now())"
                  " RETURNING id")  # fmt: skip
        source_id = c.fetchone()[0]
        c.execute(
            "INSERT INTO core_site (code, name, timezone, is_active) "
            "SELECT 'site-' || g, 'Site ' || g, 'America/New_York', true FROM generate_series(1, %s) g",
            [sites],
        )
        patients = max(referrals // 5, 1)
        t0 = time.perf_counter()
        c.execute(
            """INSERT INTO ehr_patient (source_id, fhir_id, version_id, last_updated, last_updated_us, version_seq,
                 content_sha256, raw, deleted, revision, first_stored_at, stored_at, family, given, birth_date, gender,
                 mrn, active)
               SELECT %s, 'p' || g, '1', now(), 0, 1, md5(g::text), '{}'::jsonb, false, 1, now(), now(),
                 'Family' || (g %% 5000), 'Given' || (g %% 300), date '1940-01-01' + (g %% 25000), 'female', 'MRN' || g, true
               FROM generate_series(1, %s) g""",
            [source_id, patients],
        )
        c.execute(
            """INSERT INTO ehr_servicerequest (source_id, fhir_id, version_id, last_updated, last_updated_us, version_seq,
                 content_sha256, raw, deleted, revision, first_stored_at, stored_at, status, intent, priority, category,
                 code, code_display, subject_ref, requester_ref, performer_ref, reason_code, reason_display)
               SELECT %s, 'sr' || g, '1', now(), 0, 1, md5(g::text), '{}'::jsonb, false, 1, now(), now(), 'active',
                 'order', 'routine', 'http://snomed.info/sct|3457005', '', 'Referral', 'Patient/p' || (1 + g %% %s),
                 'Practitioner/1', '', '', 'Chest pain'
               FROM generate_series(1, %s) g""",
            [source_id, patients, referrals],
        )
        # Open items are spread over the sites; closed ones are older history.
        c.execute(
            """INSERT INTO referrals_referral (site_id, queue, priority, priority_rank, patient_ref, due_at, warn_at,
                 is_open, opened_at, closed_at, updated_at, state, source_id, service_request_id, task_ref, task_version,
                 requester_ref, specialty, canonical_specialty, specialty_display, reason, auth_required, decline_reason,
                 appointment_ref, outreach_attempts, exception_reason)
               SELECT (SELECT min(id) FROM core_site) + (g %% %s),
                 (ARRAY['triage','scheduling','authorization','waiting','scheduled'])[1 + g %% 5],
                 (ARRAY['routine','routine','routine','urgent','asap','stat'])[1 + g %% 6],
                 (ARRAY[3,3,3,2,1,0])[1 + g %% 6],
                 'Patient/p' || (1 + g %% %s),
                 now() + ((g %% 20000) - 5000) * interval '1 minute', now() + ((g %% 20000) - 6000) * interval '1 minute',
                 g <= %s, now() - (g %% 90) * interval '1 day', CASE WHEN g <= %s THEN NULL ELSE now() END, now(),
                 CASE WHEN g <= %s THEN (ARRAY['triage','scheduling','pending_auth','needs_info','scheduled'])[1 + g %% 5]
                      ELSE 'completed' END,
                 %s, (SELECT min(id) FROM ehr_servicerequest) + g - 1, '', '', 'Practitioner/1',
                 'http://snomed.info/sct|394579002', 'cardiology', 'Cardiology', 'Chest pain on exertion', false, '', '', 0, ''
               FROM generate_series(1, %s) g""",
            [sites, patients, open_items, open_items, open_items, source_id, referrals],
        )
        c.execute(
            """INSERT INTO workflow_transition (workflow, item_id, site_id, transition, from_state, to_state, queue,
                 priority, actor_role, source, at, reason, correlation_id)
               SELECT 'referral', (SELECT min(id) FROM referrals_referral) + (g %% %s), (SELECT min(id) FROM core_site)
                 + (g %% %s), 'triage', 'received', 'triage', 'triage', 'routine', 'scheduler', 'staff',
                 now() - (g %% 365) * interval '1 day', '', ''
               FROM generate_series(1, %s) g""",
            [referrals, sites, transitions],
        )
        c.execute("VACUUM ANALYZE")  # the steady state autovacuum keeps: index-only scans possible
        print(f"filled {referrals:,} referrals ({open_items:,} open, {sites} sites), {transitions:,} transitions "
              f"in {time.perf_counter() - t0:.0f}s")  # fmt: skip


def stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def timed(fn, runs: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--referrals", type=int, default=1_000_000)
    parser.add_argument("--transitions", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="reuse the filled database")
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    if not args.keep:
        recreate_database(url)

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    settings.ALLOWED_HOSTS = ["testserver"]
    from apps.core.tests.factories import UserFactory

    from apps.core.models import Site
    from apps.core.roles import Role
    from apps.referrals.models import Referral
    from apps.workflow.selectors import _encode, worklist_page

    if not args.keep:
        fill(args.referrals, args.transitions, open_items=int(args.referrals * 0.3))
    sites = list(Site.objects.order_by("id")[:2])
    user = UserFactory(username=f"bench-{time.time_ns()}", role=Role.SCHEDULER, sites=sites)
    client = Client()
    client.force_login(user)
    url_name = reverse("referrals:worklist")

    mine = Referral.objects.filter(site__in=sites, is_open=True).order_by("priority_rank", "due_at", "id")
    deep = max(min(10_000, mine.count() - 60), 0)
    deep_row = mine.values_list("priority_rank", "due_at", "id")[deep]
    deep_cursor = _encode(list(deep_row))
    pages = {
        "first page": {},
        f"deep page ({deep:,} rows in)": {"cursor": deep_cursor},
        "filtered (queue=scheduling, priority=urgent)": {"queue": "scheduling", "priority": "urgent"},
    }
    print(f"\nworklist request through Django, {args.runs} runs each (scheduler of 2 sites, 50 rows a page)")
    results = {}
    for label, params in pages.items():
        response = client.get(url_name, params)
        assert response.status_code == 200, (label, response.status_code)
        p50, p95 = stats(timed(lambda params=params: client.get(url_name, params), args.runs))
        results[label] = p95
        print(f"  {label:<46} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")

    site_ids = [s.id for s in sites]
    raw_sql = (
        "SELECT r.*, s.code, s.name FROM referrals_referral r JOIN core_site s ON s.id = r.site_id "
        "LEFT JOIN core_user u ON u.id = r.assignee_id LEFT JOIN core_serviceline l ON l.id = r.service_line_id "
        "WHERE r.site_id = ANY(%s) AND r.is_open ORDER BY r.priority_rank, r.due_at, r.id LIMIT 51"
    )

    def raw() -> None:
        with connection.cursor() as c:
            c.execute(raw_sql, [site_ids])
            c.fetchall()

    def orm() -> None:
        worklist_page(model=Referral, user=user, filters={}, limit=50)

    user._clinops_site_ids = set(site_ids)
    orm_p50, _ = stats(timed(orm, args.runs))
    raw_p50, _ = stats(timed(raw, args.runs))
    print(f"\nfirst page query: ORM {orm_p50:.2f} ms vs raw SQL {raw_p50:.2f} ms (p50) → {orm_p50 / raw_p50:.1f}×")

    counts = {}
    for size in (25, 100):
        with CaptureQueriesContext(connection) as ctx:
            client.get(url_name, {"page_size": size})
        counts[size] = len(ctx.captured_queries)
    print(f"queries per worklist request: {counts[25]} at 25 rows, {counts[100]} at 100 rows")

    first = results["first page"]
    deep_p95 = results[f"deep page ({deep:,} rows in)"]
    print("\ntargets:")
    print(f"  first page p95 ≤ 50 ms: {first:.1f} ms {'met' if first <= 50 else 'MISSED'}")
    print(f"  deep page ≤ 1.5× first: {deep_p95 / first:.2f}× {'met' if deep_p95 <= 1.5 * first else 'MISSED'}")
    print(f"  ORM ≤ 6× raw SQL: {orm_p50 / raw_p50:.1f}× {'met' if orm_p50 <= 6 * raw_p50 else 'MISSED'}")
    print(f"  queries do not grow with page size: {'met' if counts[25] == counts[100] else 'MISSED'}")


if __name__ == "__main__":
    main()
