"""Worklist speed at scale, on PostgreSQL (run by hand, not by the tests).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinops_bench_worklist \
        .venv/bin/python benchmarks/worklist.py [--referrals 1000000] [--transitions 5000000] [--keep]
        [--runs 50] [--http-seconds 30]

Fills 1,000,000 referrals (300,000 open over 20 sites), 500,000 intakes and 500,000 results
(150,000 open each; the open intakes with a four-line checklist) and 5,000,000 transition rows
with set-based SQL (``--keep`` reuses them: migrates to this checkout's schema and analyzes).
Then, for each workflow's worklist (a scheduler of two sites for referrals, a medical assistant
of the same two sites for intake and results):
  - the request through Django (test client: middleware, auth, selectors, template, access
    log): first page, a deep page (cursor 10,000 rows in), a filtered page — p50 / p95 over runs;
  - queries per request at page sizes 25 and 100 (every statement, BEGIN and COMMIT included);
  - the floor, in the same run: one hand-written keyset query for the same page over the same
    index (p50), and the first page's p95 as a multiple of it (the machine is shared: compare
    ratios between runs, not milliseconds);
then an HTTP run: gunicorn with 4 workers, 4 concurrent clients requesting the three worklists
in turn with the users' session cookies, p50 / p95 per worklist and overall.
Targets (issue 21): first page p95 ≤ 50 ms for each worklist, ≤ 12 queries per request, HTTP
p95 ≤ 150 ms.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

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
        from apps.ehr.models import EhrSource

        source_id = EhrSource.objects.create(name="bench", is_active=True).pk  # its defaults, whatever the schema
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
                 appointment_ref, booking_slot_ref, replaces_appointment_ref, outreach_attempts, exception_reason,
                 entered_by_hand)
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
                 'http://snomed.info/sct|394579002', 'cardiology', 'Cardiology', 'Chest pain on exertion', false, '', '', '', '', 0, '', false
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
        fill_intakes(c, source_id, sites, patients, referrals // 2, open_items // 2)
        fill_results(c, source_id, sites, patients, referrals // 2, open_items // 2)
        c.execute("VACUUM ANALYZE")  # the steady state autovacuum keeps: index-only scans possible
        print(f"filled {referrals:,} referrals ({open_items:,} open, {sites} sites), {referrals // 2:,} intakes and "
              f"{referrals // 2:,} results ({open_items // 2:,} open each), {transitions:,} transitions "
              f"in {time.perf_counter() - t0:.0f}s")  # fmt: skip


def fill_intakes(c, source_id: int, sites: int, patients: int, count: int, open_items: int) -> None:
    """Booked appointments and their intakes (the open ones with a four-line checklist)."""
    c.execute(
        """INSERT INTO ehr_appointment (source_id, fhir_id, version_id, last_updated, last_updated_us, version_seq,
             content_sha256, raw, deleted, revision, first_stored_at, stored_at, status, patient_ref, practitioner_ref,
             location_ref, based_on_ref, appointment_type, service_type, start, slot_ref)
           SELECT %s, 'ap' || g, '1', now(), 0, 1, md5(g::text), '{}'::jsonb, false, 1, now(), now(), 'booked',
             'Patient/p' || (1 + g %% %s), 'Practitioner/1', '', '', 'ROUTINE', '',
             now() + ((g %% 2000) - 500) * interval '1 hour', ''
           FROM generate_series(1, %s) g""",
        [source_id, patients, count],
    )
    c.execute(
        """INSERT INTO intake_intake (site_id, queue, priority, priority_rank, patient_ref, due_at, warn_at, is_open,
             opened_at, closed_at, updated_at, state, source_id, appointment_id, appointment_version, visit_start,
             visit_date, appointment_type, appointment_type_display, exception_reason, outreach_attempts,
             reschedule_count, entered_by_hand)
           SELECT (SELECT min(id) FROM core_site) + (g %% %s), CASE WHEN g %% 50 = 0 THEN 'supervisor' ELSE 'intake' END,
             'routine', 3, 'Patient/p' || (1 + g %% %s),
             now() + ((g %% 2000) - 548) * interval '1 hour', now() + ((g %% 2000) - 572) * interval '1 hour',
             g <= %s, now() - (g %% 30) * interval '1 day', CASE WHEN g <= %s THEN NULL ELSE now() END, now(),
             CASE WHEN g <= %s THEN (ARRAY['pending','outreach','in_progress','ready'])[1 + (g / 20) %% 4]
                  ELSE 'checked_in' END,
             %s, (SELECT min(id) FROM ehr_appointment) + g - 1, '1',
             now() + ((g %% 2000) - 500) * interval '1 hour', (now() + ((g %% 2000) - 500) * interval '1 hour')::date,
             'ROUTINE', 'Routine visit', '', 0, 0, false
           FROM generate_series(1, %s) g""",
        [sites, patients, open_items, open_items, open_items, source_id, count],
    )
    c.execute(
        """INSERT INTO intake_intakecheck (intake_id, key, label, position, done_at, done_source, evidence)
           SELECT i.id, k.key, k.label, k.pos, CASE WHEN (i.id + k.pos) %% 3 = 0 THEN now() END, '', ''
           FROM intake_intake i
           CROSS JOIN (VALUES ('demographics', 'Demographics confirmed', 10), ('insurance', 'Insurance verified', 20),
                              ('questionnaire', 'Questionnaire returned', 30), ('consent', 'Consent signed', 40))
                AS k(key, label, pos)
           WHERE i.is_open""",
        [],
    )


def fill_results(c, source_id: int, sites: int, patients: int, count: int, open_items: int) -> None:
    """Results (DiagnosticReports) with three values each, the open ones in review, notify and follow-up."""
    c.execute(
        """INSERT INTO results_resultitem (site_id, queue, priority, priority_rank, patient_ref, due_at, warn_at,
             is_open, opened_at, closed_at, updated_at, state, source_id, resource_type, resource_id, version_id,
             fhir_status, code, code_display, criticality, criticality_note, interpretation_codes, values, conclusion,
             issued_at, ordering_ref, unassigned_reason, exception_reason, changes, follow_up, follow_up_note,
             notification_method, void_reason)
           SELECT (SELECT min(id) FROM core_site) + (g %% %s),
             CASE WHEN g > %s THEN '' ELSE (ARRAY['review','review','notify','follow_up'])[1 + (g / 20) %% 4] END,
             (ARRAY['routine','routine','urgent','stat'])[1 + (g / 60) %% 4], (ARRAY[3,3,2,0])[1 + (g / 60) %% 4],
             'Patient/p' || (1 + g %% %s),
             now() + ((g %% 20000) - 5000) * interval '1 minute', now() + ((g %% 20000) - 6000) * interval '1 minute',
             g <= %s, now() - (g %% 90) * interval '1 day', CASE WHEN g <= %s THEN NULL ELSE now() END, now(),
             CASE WHEN g <= %s THEN (ARRAY['new','new','reviewed','patient_notified'])[1 + (g / 20) %% 4]
                  ELSE 'closed' END,
             %s, 'DiagnosticReport', 'dr' || g, '1', 'final', 'http://loinc.org|24323-8', 'Metabolic panel',
             (ARRAY['normal','abnormal','critical'])[1 + g %% 3], '', '',
             '[{"display": "Sodium", "value": 140, "unit": "mmol/L", "low": 135, "high": 145},
               {"display": "Potassium", "value": 4.1, "unit": "mmol/L", "low": 3.5, "high": 5.1},
               {"display": "Glucose", "value": 5.2, "unit": "mmol/L", "low": 3.9, "high": 7.8}]'::jsonb,
             '', now() - (g %% 90) * interval '1 day', 'Practitioner/1', '', '', '', '', '', '', ''
           FROM generate_series(1, %s) g""",
        [sites, open_items, patients, open_items, open_items, open_items, source_id, count],
    )


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


def session_client(role: str, sites: list[Any], label: str) -> tuple[Any, Any]:
    from django.contrib.auth.signals import user_logged_in
    from django.test import Client

    from apps.core.mfa import mfa_mark_verified
    from tests.plugins.core import UserFactory

    user = UserFactory(username=f"bench-{label}-{time.time_ns()}", role=role, sites=sites)
    client = Client()

    def verified(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        mfa_mark_verified(request)  # a signed-in session as after the code step

    user_logged_in.connect(verified, dispatch_uid="bench.mfa")
    client.force_login(user)
    user_logged_in.disconnect(dispatch_uid="bench.mfa")
    return user, client


def raw_floor(table: str, site_ids: list[int], runs: int) -> float:
    """The floor: one hand-written keyset query over the same open index (the first page's rows
    and nothing else), p50 in ms."""
    from django.db import connection

    sql = (f"SELECT * FROM {table} WHERE site_id = ANY(%s) AND is_open "
           "ORDER BY priority_rank, due_at, id LIMIT 51")  # fmt: skip

    def raw() -> None:
        with connection.cursor() as c:
            c.execute(sql, [site_ids])
            c.fetchall()

    return stats(timed(raw, runs))[0]


def bench_workflow(name: str, url: str, client: Any, model: Any, sites: list[Any], extra: dict[str, dict[str, str]],
                   runs: int) -> dict[str, Any]:  # fmt: skip
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.workflow.selectors import _encode

    mine = model.objects.filter(site__in=sites, is_open=True).order_by("priority_rank", "due_at", "id")
    deep = max(min(10_000, mine.count() - 60), 0)
    deep_cursor = _encode(list(mine.values_list("priority_rank", "due_at", "id")[deep]))
    pages = {"first page": {}, f"deep page ({deep:,} rows in)": {"cursor": deep_cursor}, **extra}
    print(f"\n{name}: {url}, {runs} runs each (2 sites, 50 rows a page)")
    out: dict[str, Any] = {"p95": {}}
    for label, params in pages.items():
        response = client.get(url, params)
        assert response.status_code == 200, (name, label, response.status_code)
        assert b"wl-row" in response.content, (name, label, "no rows")
        p50, p95 = stats(timed(lambda params=params: client.get(url, params), runs))
        out["p95"][label] = p95
        print(f"  {label:<46} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")
    out["first"] = out["p95"]["first page"]
    out["deep"] = out["p95"][f"deep page ({deep:,} rows in)"]
    counts = {}
    for size in (25, 100):
        with CaptureQueriesContext(connection) as ctx:
            client.get(url, {"page_size": size})
        counts[size] = len(ctx.captured_queries)
    out["queries"] = counts
    floor = raw_floor(model._meta.db_table, [s.id for s in sites], runs)
    out["floor"] = floor
    print(f"  queries per request: {counts[25]} at 25 rows, {counts[100]} at 100 rows")
    print(f"  floor (one raw keyset query, p50): {floor:.2f} ms → first page p95 is {out['first'] / floor:.0f}× it")
    return out


def http_run(targets: list[tuple[str, str, str]], seconds: float, clients: int = 4, workers: int = 4) -> dict[str, Any]:
    """gunicorn with ``workers`` processes, ``clients`` threads requesting the worklists in turn
    for ``seconds``; p50/p95 per worklist and overall."""
    import socket
    import subprocess
    import threading
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "clinops.settings.test"}
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "clinops.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--log-level", "warning"],
        cwd=root, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError as exc:
                if getattr(exc, "code", None):  # any HTTP answer: it is up
                    break
                time.sleep(0.25)

        def get(path: str, cookie: str) -> float:
            request = urllib.request.Request(base + path, headers={"Cookie": f"sessionid={cookie}"})
            t0 = time.perf_counter()
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200, response.status
                response.read()
            return (time.perf_counter() - t0) * 1000

        for _, path, cookie in targets:  # warm every worker
            for _ in range(workers * 2):
                get(path, cookie)
        samples: dict[str, list[float]] = {name: [] for name, _, _ in targets}
        errors: list[str] = []
        stop = time.monotonic() + seconds

        def client(n: int) -> None:
            i = n
            while time.monotonic() < stop:
                name, path, cookie = targets[i % len(targets)]
                i += 1
                try:
                    samples[name].append(get(path, cookie))
                except Exception as exc:
                    errors.append(f"{name}: {exc}")

        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: the figures are taken, do not lose them
            server.kill()
            server.wait()
    every = [ms for values in samples.values() for ms in values]
    print(f"\nHTTP: gunicorn {workers} workers, {clients} concurrent clients, {seconds:.0f} s, {len(every)} requests"
          f" ({len(errors)} errors)")  # fmt: skip
    for name, values in samples.items():
        p50, p95 = stats(values)
        print(f"  {name:<10} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   ({len(values)} requests)")
    p50, p95 = stats(every)
    print(f"  {'all':<10} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")
    if errors:
        print("  first errors:", errors[:3])
    return {"p95": p95, "errors": len(errors)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--referrals", type=int, default=1_000_000)
    parser.add_argument("--transitions", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--http-seconds", type=float, default=30, help="0: no HTTP run")
    parser.add_argument("--keep", action="store_true", help="reuse the filled database")
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    if not args.keep:
        recreate_database(url)

    import django

    django.setup()
    from django.conf import settings
    from django.urls import reverse

    settings.ALLOWED_HOSTS = ["testserver"]
    from apps.core.models import Site
    from apps.core.roles import Role
    from apps.intake.models import Intake
    from apps.referrals.models import Referral
    from apps.results.models import ResultItem

    if not args.keep:
        fill(args.referrals, args.transitions, open_items=int(args.referrals * 0.3))
    else:  # the schema of this checkout (new indexes), statistics fresh
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        with connection.cursor() as c:
            c.execute("ANALYZE")
    sites = list(Site.objects.order_by("id")[:2])
    _, scheduler_client = session_client(Role.SCHEDULER, sites, "scheduler")
    _, ma_client = session_client(Role.MEDICAL_ASSISTANT, sites, "ma")
    workflows = [
        ("referrals", reverse("referrals:worklist"), scheduler_client, Referral,
         {"filtered (queue=scheduling, priority=urgent)": {"queue": "scheduling", "priority": "urgent"}}),
        ("intake", reverse("intake:worklist"), ma_client, Intake,
         {"filtered (site, state=pending)": {"site": sites[0].code, "state": "pending"}}),
        ("results", reverse("results:worklist"), ma_client, ResultItem,
         {"filtered (queue=notify, priority=urgent)": {"queue": "notify", "priority": "urgent"}}),
    ]  # fmt: skip
    results = {name: bench_workflow(name, path, client, model, sites, extra, args.runs)
               for name, path, client, model, extra in workflows}  # fmt: skip

    http = None
    if args.http_seconds:
        targets = [(name, path, client.cookies["sessionid"].value) for name, path, client, _, _ in workflows]
        http = http_run(targets, args.http_seconds)

    print("\ntargets (issue 21):")
    for name, r in results.items():
        first, floor, queries = r["first"], r["floor"], max(r["queries"].values())
        print(f"  {name:<10} first page p95 ≤ 50 ms: {first:6.1f} ms {'met' if first <= 50 else 'MISSED'}"
              f" (floor {floor:.2f} ms, {first / floor:.0f}×);"
              f" ≤ 12 queries: {queries} {'met' if queries <= 12 else 'MISSED'};"
              f" not growing with rows: {'met' if r['queries'][25] == r['queries'][100] else 'MISSED'};"
              f" deep ≤ 1.5× first: {r['deep'] / first:.2f}×")  # fmt: skip
    if http is not None:
        print(f"  HTTP p95 ≤ 150 ms (4 clients, 4 workers): {http['p95']:.1f} ms "
              f"{'met' if http['p95'] <= 150 and not http['errors'] else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()
