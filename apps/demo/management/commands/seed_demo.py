"""Reference data, demo sites, one demo user per role and what the demo EHR needs. Safe to run
any number of times; refused with DEBUG off (the demo users have a published password)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.demo.seeds.intake import demo_intake_seed
from apps.demo.seeds.patients import demo_clinic_contacts_seed
from apps.demo.seeds.people import DEMO_PASSWORD, demo_people_seed
from apps.demo.seeds.referrals import demo_referrals_seed
from apps.demo.seeds.results import demo_results_seed
from apps.demo.seeds.terminology import demo_terminology_seed
from apps.demo.setup import demo_clinicians_link


class Command(BaseCommand):
    help = "Load reference data, demo sites and one demo user per role (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--allow-production", action="store_true", help="Seed even with DEBUG off.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError("Demo users have a published password; refusing with DEBUG off.")
        people, rows = demo_people_seed()
        self.stdout.write(people)
        self.stdout.write(demo_terminology_seed())
        self.stdout.write(demo_referrals_seed())
        self.stdout.write(demo_results_seed())
        self.stdout.write(demo_intake_seed())
        self.stdout.write(demo_clinic_contacts_seed())
        self.stdout.write(demo_clinicians_link())
        self.stdout.write(f"Demo users (password {DEMO_PASSWORD!r}):")
        for username, role, sites, state in rows:
            self.stdout.write(f"  {username:<12} {role:<20} {sites:<18} {state}")
