"""Import Bulk Data NDJSON (also .gz) and Bundle/resource JSON files or folders of them.

A line or file that cannot be read, or a resource that fails, fails alone and is listed with
its file and line; the rest lands. The exit status is 1 when anything failed."""

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.ehr.models import EhrSource
from apps.ehr.services.bulk_import import ImportReport, bulk_import
from apps.ehr.services.sources import source_upsert

COLUMNS = ("new", "updated", "unchanged", "ignored", "failed")


class Command(BaseCommand):
    help = "Import FHIR NDJSON / JSON files into the inbox and the local store."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--source", required=True, help="EHR source name (created if it does not exist)")
        parser.add_argument(
            "--strict", action="store_true", help="Kept for old scripts: any failure now exits non-zero"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = EhrSource.objects.filter(name=options["source"]).first()
        if source is None:
            source, _ = source_upsert(name=options["source"])
            self.stdout.write(f"created source {source.name}")
        started = time.monotonic()
        last = [0.0]

        def progress(report: ImportReport) -> None:
            now = time.monotonic()
            if now - last[0] < 0.5:
                return
            last[0] = now
            rate = report.resources / max(now - started, 1e-6)
            sys.stderr.write(f"\r  {report.resources:>9,} resources  {rate:>8,.0f}/s  {report.failed:>6,} failed")
            sys.stderr.flush()

        try:
            report = bulk_import(source=source, paths=options["paths"], progress=progress)
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        sys.stderr.write("\n")
        elapsed = time.monotonic() - started
        self._table(report)
        self.stdout.write(f"{report.resources:,} resources in {elapsed:.1f}s (correlation id {report.correlation_id})")
        for error in report.errors[:50]:
            self.stdout.write(self.style.ERROR(f"  {error}"))
        if len(report.errors) > 50:
            self.stdout.write(f"  … and {len(report.errors) - 50} more (see the integration console)")
        if report.failed:
            # Everything that could be read has landed; the status tells a script that not all did.
            raise CommandError(
                f"{report.failed} entr{'y' if report.failed == 1 else 'ies'} failed; the rest was imported "
                "(see above, and the integration console)"
            )

    def _table(self, report: ImportReport) -> None:
        self.stdout.write(f"{'resource type':<22}" + "".join(f"{c:>11}" for c in COLUMNS))
        totals = dict.fromkeys(COLUMNS, 0)
        for rtype in sorted(report.counts):
            counts = report.counts[rtype]
            for c in COLUMNS:
                totals[c] += counts[c]
            self.stdout.write(f"{rtype:<22}" + "".join(f"{counts[c]:>11,}" for c in COLUMNS))
        self.stdout.write(f"{'total':<22}" + "".join(f"{totals[c]:>11,}" for c in COLUMNS))
