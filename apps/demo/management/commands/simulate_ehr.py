"""A simulated EHR feeding clinops through its real interfaces (never the database).

    manage.py simulate_ehr --history 90d --out DIR            # NDJSON for: manage.py ehr_import --source demo-ehr DIR
    manage.py simulate_ehr --url http://127.0.0.1:8000 --token T --rate 2/s --duration 10m   # a live feed
    manage.py simulate_ehr --staff          # after an import: demo staff work the referrals (referral services)

A seed (``--seed``) and ``--now`` make the files identical from run to run.
"""

import os
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.demo.delivery import DeliveryError, Webhook, ndjson_write, restamp, webhook_url
from apps.demo.generator import Config, Rates, simulate
from apps.demo.staff import staff_simulate

TOKEN_ENV = "CLINOPS_DEMO_EHR_TOKEN"  # noqa: S105 - the name of the variable, not a secret


def parse_span(value: str) -> timedelta:
    """``90d``, ``12h``, ``10m``, ``30s`` (a bare number is seconds)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dhms]?)\s*", value or "")
    if not match:
        raise CommandError(f"{value!r} is not a time span: write e.g. 90d, 12h, 10m or 30s.")
    unit = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds", "": "seconds"}[match[2]]
    return timedelta(**{unit: float(match[1])})


def parse_rate(value: str) -> float:
    """``5/s``, ``120/m`` or ``5``: resources per second."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:/\s*([smh]))?\s*", value or "")
    if not match:
        raise CommandError(f"{value!r} is not a rate: write e.g. 5/s or 120/m.")
    return float(match[1]) / {"s": 1, "m": 60, "h": 3600, None: 1}[match[2]]


def parse_now(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CommandError(f"--now {value!r} is not an ISO date-time (e.g. 2026-11-25T08:00:00Z).") from exc
    if parsed.tzinfo is None:
        raise CommandError("--now needs a time zone (e.g. a trailing Z).")
    return parsed.astimezone(UTC)


class Command(BaseCommand):
    help = "Simulate an EHR: write NDJSON for ehr_import (--out) or post to the local webhook (--url)."

    def add_arguments(self, parser: Any) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--out", type=Path, help="Write one NDJSON file per resource type to this folder")
        target.add_argument("--url", help="Post to the webhook of the clinops at this URL (127.0.0.1/localhost only)")
        target.add_argument(
            "--staff", action="store_true", help="Act as demo staff on untouched open referrals (through the services)"
        )
        parser.add_argument(
            "--seed",
            type=int,
            help="Same seed (and --now), same output. Default 1; for a live feed the clock, so that it brings new "
            "referrals rather than repeating the history's",
        )
        parser.add_argument("--history", help="Backfill this span before now, e.g. 90d (past lastUpdated)")
        parser.add_argument("--days", default="30d", help="Live feed without --history: span simulated (30d)")
        parser.add_argument("--now", help="The end of the history window (ISO date-time; default: now)")
        parser.add_argument("--per-day", type=float, default=Rates.referrals_per_day, help="Referrals per day")
        parser.add_argument("--no-show", type=float, default=Rates.no_show, help="Share of appointments not attended")
        parser.add_argument("--booked", type=float, default=Rates.booked, help="Share of referrals that get booked")
        parser.add_argument("--source", default="demo-ehr", help="EHR source name in the webhook URL (demo-ehr)")
        parser.add_argument("--token", help=f"The source's webhook token (or set {TOKEN_ENV})")
        parser.add_argument(
            "--rate", default="5/s", help="Resources per second posted, e.g. 5/s or 120/m; 0 = flat out"
        )
        parser.add_argument("--duration", help="Stop posting after this long, e.g. 10m")
        parser.add_argument("--count", type=int, help="Stop posting after this many resources")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["staff"]:
            done = staff_simulate(source_name=options["source"], seed=options["seed"] or 1)
            summary = ", ".join(f"{name} {count}" for name, count in sorted(done.items())) or "nothing to do"
            self.stdout.write(f"Staff actions on {options['source']} referrals: {summary}.")
            return
        now = parse_now(options["now"])
        rates = Rates(referrals_per_day=options["per_day"], no_show=options["no_show"], booked=options["booked"])
        live = options["url"] is not None and not options["history"]
        seed = options["seed"]
        if seed is None:
            seed = int(now.timestamp()) if live else 1
            if live:
                self.stdout.write(f"seed {seed} (pass --seed {seed} to replay this feed)")
        config = Config(seed=seed, rates=rates)
        if options["history"]:
            start, end = now - parse_span(options["history"]), now
        else:
            start, end = now, now + parse_span(options["days"])
        events = simulate(config, start=start, end=end)
        if options["out"] is not None:
            counts = ndjson_write(events, options["out"])
            for rtype, count in sorted(counts.items()):
                self.stdout.write(f"  {rtype:<18} {count:>8,}")
            self.stdout.write(
                f"{sum(counts.values()):,} resources in {options['out']} "
                f"(import: python manage.py ehr_import --source {options['source']} {options['out']})"
            )
            return
        self._post(events, options, live=live)

    def _post(self, events: list, options: dict, *, live: bool) -> None:
        token = options["token"] or os.environ.get(TOKEN_ENV, "")
        if not token:
            raise CommandError(
                f"Pass the source's webhook token with --token or {TOKEN_ENV} "
                f"(python manage.py ehr_source {options['source']} --rotate-token prints one)."
            )
        try:
            webhook = Webhook(webhook_url(options["url"], options["source"]), token)
        except DeliveryError as exc:
            raise CommandError(str(exc)) from exc
        per_second = parse_rate(options["rate"])
        deadline = time.monotonic() + parse_span(options["duration"]).total_seconds() if options["duration"] else None
        limit = options["count"] if options["count"] is not None else len(events)
        sent, started = 0, time.monotonic()
        for event in events[:limit]:
            if deadline is not None and time.monotonic() >= deadline:
                break
            # A live feed happens now; a backfill keeps its past times.
            resource = restamp(event.resource, datetime.now(UTC)) if live else event.resource
            try:
                webhook.post(resource)
            except DeliveryError as exc:
                raise CommandError(f"Stopped after {sent:,} resources: {exc}") from exc
            sent += 1
            if sent % 50 == 0:
                sys.stderr.write(f"\r  {sent:>8,} resources posted")
                sys.stderr.flush()
            if per_second > 0:
                time.sleep(max(0.0, started + sent / per_second - time.monotonic()))
        sys.stderr.write("\n")
        self.stdout.write(f"{sent:,} resources posted to {webhook.url} in {time.monotonic() - started:.1f}s")
