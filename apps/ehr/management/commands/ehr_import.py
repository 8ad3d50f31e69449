"""Import Bulk Data NDJSON (also .gz), Bundle/resource JSON and HL7 v2 files, or folders of them.

A line, message or file that cannot be read, or a resource that fails, fails alone and is listed
with its file and line; the rest lands. The exit status is 1 when anything failed."""

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.ehr.models import EhrSource
from apps.ehr.services.bulk_import import ImportReport, bulk_import
from apps.ehr.services.sources import source_upsert
from apps.ehr.services.v2_import import V2ImportReport, is_v2_file, v2_files, v2_import

COLUMNS = ("new", "updated", "unchanged", "ignored", "failed")


class Command(BaseCommand):
    help = (
        "Import FHIR NDJSON / JSON files and HL7 v2 files (.hl7/.er7: one message per MLLP frame or per "
        "blank-line-separated block) into the inbox and the local store."
    )

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

        paths: list[Path] = options["paths"]
        for path in paths:
            if not path.exists():
                raise CommandError(f"{path}: no such file or folder")
        v2_report = None
        if list(v2_files(paths)):
            v2_report = v2_import(source=source, paths=paths)
            self._v2_table(v2_report)
        fhir_paths = [p for p in paths if p.is_dir() or not is_v2_file(p)]
        if not fhir_paths:
            if v2_report is not None and v2_report.failed:
                raise CommandError(f"{v2_report.failed} v2 message(s) or resource(s) failed; the rest was imported")
            return
        try:
            report = bulk_import(source=source, paths=fhir_paths, progress=progress)
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
        if report.failed or (v2_report is not None and v2_report.failed):
            # Everything that could be read has landed; the status tells a script that not all did.
            said = [f"{report.failed} entr{'y' if report.failed == 1 else 'ies'}"] if report.failed else []
            if v2_report is not None and v2_report.failed:
                said.append(f"{v2_report.failed} v2 message(s) or resource(s)")
            raise CommandError(
                f"{' and '.join(said)} failed; the rest was imported (see above, and the integration console)"
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

    def _v2_table(self, report: V2ImportReport) -> None:
        answers = ("AA", "AE", "AR", "duplicate")
        self.stdout.write(f"{'HL7 v2 message':<22}" + "".join(f"{c:>11}" for c in answers))
        for kind in sorted(report.counts):
            self.stdout.write(f"{kind:<22}" + "".join(f"{report.counts[kind][c]:>11,}" for c in answers))
        made = ", ".join(f"{n:,} {outcome}" for outcome, n in sorted(report.resources.items())) or "none"
        self.stdout.write(f"{report.messages:,} v2 message(s); FHIR resources: {made}")
        for error in report.errors[:50]:
            self.stdout.write(self.style.ERROR(f"  {error}"))
