"""Load the canonical code sets (fixtures/terminology_*.json). Idempotent; for every environment."""

from typing import Any

from django.core.management.base import BaseCommand

from apps.terminology.services import terminology_reference_load


class Command(BaseCommand):
    help = "Create or update the canonical code systems from fixtures/terminology_*.json (safe to re-run)."

    def handle(self, *args: Any, **options: Any) -> None:
        systems, concepts = terminology_reference_load()
        self.stdout.write(f"Terminology reference data: {systems} canonical code systems, {concepts} concepts.")
