"""Verify the tamper-evident audit chain: exit 1 and list every altered, deleted or unsealed row."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.core.audit_chain import audit_verify
from apps.core.models import AuditSeal


class Command(BaseCommand):
    help = "Check the hash chain over the change audit and the access log; fail on any tampering."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--limit", type=int, default=50, help="show at most this many problems")
        parser.add_argument(
            "--anchor",
            type=Path,
            help="an anchor file (CLINOPS_AUDIT_ANCHOR_FILE, or a copy): every seal it names must be intact",
        )

    def handle(self, *args: Any, limit: int, anchor: Path | None = None, **options: Any) -> None:
        problems = 0
        for problem in audit_verify(anchor=anchor):
            problems += 1
            if problems <= limit:
                self.stderr.write(str(problem))
        if problems:
            raise CommandError(f"audit chain: {problems} problem(s) found")
        checked = f", matching the anchor file {anchor}" if anchor else ""
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {AuditSeal.objects.count()} rows sealed{checked}"))
