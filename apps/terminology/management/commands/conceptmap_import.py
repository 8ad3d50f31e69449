"""Import a CSV or FHIR R4 ConceptMap JSON file as a new draft version of a concept map."""

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import ApplicationError
from apps.terminology.services import version_import_file


class Command(BaseCommand):
    help = (
        "Import FILE (.csv, or a FHIR R4 ConceptMap .json) as a new draft. The map is found by --map, "
        "else by the ConceptMap's url or its group's source and target systems. All rows or nothing."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "file",
            help="a .csv (columns: source_code, source_display, relationship, "
            "target_code, target_display, comment) or a FHIR ConceptMap .json",
        )
        parser.add_argument("--map", dest="map_name", help="the concept map's name (required for CSV)")
        parser.add_argument("--by", dest="username", help="the steward importing it (its author); default: none")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        by = None
        if options["username"]:
            by = get_user_model().objects.filter(username=options["username"]).first()
            if by is None:
                raise CommandError(f"There is no user {options['username']!r}.")
        try:
            version = version_import_file(
                name=path.name, content=path.read_bytes(), by=by, map_name=options["map_name"]
            )
        except ApplicationError as error:
            raise CommandError(f"Nothing was imported from {path.name}:\n{error.message}") from None
        except PermissionDenied as error:
            raise CommandError(f"{options['username']}: {error}") from None
        rows = version.elements.count()
        self.stdout.write(f"Imported {rows} rows from {path.name} as draft {version} (version id {version.pk}).")
