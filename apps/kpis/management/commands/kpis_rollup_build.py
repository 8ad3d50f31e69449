from django.core.management.base import BaseCommand

from apps.kpis.rollup import rollup_rebuild


class Command(BaseCommand):
    help = "Build the scorecard's per-item rollup from the whole transition log (the beat task keeps it current)."

    def handle(self, *args: object, **options: object) -> None:
        items = rollup_rebuild()
        self.stdout.write(f"Per-item rollup built: {items} items.")
