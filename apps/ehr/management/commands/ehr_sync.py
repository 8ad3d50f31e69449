"""Run one polling pass over an EHR source and print what it read per resource type."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.ehr.models import EhrSource
from apps.ehr.services.polling import source_poll


class Command(BaseCommand):
    help = "Poll an EHR source once (FHIR search since each type's cursor, or Bulk $export with --bulk)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--source", required=True, help="EHR source name")
        parser.add_argument(
            "--type",
            action="append",
            dest="types",
            metavar="TYPE",
            help="resource type to poll (repeatable; default: the source's list, else every stored type)",
        )
        parser.add_argument("--bulk", action="store_true", help="use Bulk $export with _since instead of search")

    def handle(self, *args: Any, **options: Any) -> None:
        source = EhrSource.objects.filter(name=options["source"]).first()
        if source is None:
            raise CommandError(f"No EHR source named {options['source']!r} (see: manage.py ehr_source).")
        result = source_poll(
            source_id=source.pk, resource_types=options["types"], use_bulk=True if options["bulk"] else None
        )
        self.stdout.write(f"{'resource type':<20}{'pages':>7}{'resources':>11}{'new':>7}  cursor")
        for poll in result.types:
            cursor = poll.cursor.isoformat() if poll.cursor else "-"
            counts = f"{poll.pages:>7,}{poll.resources:>11,}{poll.stored:>7,}"
            self.stdout.write(f"{poll.resource_type:<20}{counts}  {cursor}")
            if poll.error:
                self.stdout.write(self.style.ERROR(f"  {poll.error}"))
        self.stdout.write(f"pass {result.correlation_id} ({'bulk export' if result.bulk else 'search'})")
        failed = [p.resource_type for p in result.types if p.error]
        if failed:
            raise CommandError(f"{len(failed)} type(s) failed: {', '.join(failed)}")
