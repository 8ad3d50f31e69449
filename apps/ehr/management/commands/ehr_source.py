"""Create or update an EHR source and print its webhook token."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.ehr.services.sources import source_upsert


class Command(BaseCommand):
    help = "Create or update an EHR source; prints its webhook token when one is made."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name", help="Short name, used in the webhook URL (letters, digits, - and _)")
        parser.add_argument("--base-url", help="The EHR's FHIR R4 base URL")
        parser.add_argument("--rotate-token", action="store_true", help="Make a new webhook token")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            source, token = source_upsert(
                name=options["name"], base_url=options["base_url"], rotate_token=options["rotate_token"]
            )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        self.stdout.write(f"source {source.name}: base URL {source.base_url or '(none)'}")
        self.stdout.write(f"webhook: POST /integrations/{source.name}/fhir")
        if token:
            self.stdout.write(f"webhook token (shown once, store it in the EHR): {token}")
        else:
            hint = source.webhook_token_hint
            self.stdout.write(f"webhook token unchanged (ends …{hint}); --rotate-token makes a new one")
