"""Intake switched on at every demo site for the demo EHR source, each site being the Location the
simulated feed (``generator.py``) books its appointments at."""

from django.db import transaction

from apps.core.models import Site
from apps.ehr.models import EhrSource
from apps.intake.checklist import checklist_defaults_ensure
from apps.intake.models import IntakeSite
from apps.intake.services import intake_site_upsert

DEMO_SOURCE = "demo-ehr"


@transaction.atomic
def demo_intake_seed() -> str:
    """Switch intake on at the demo sites (Location/loc-<site code>); a line for seed_demo's output."""
    source = EhrSource.objects.filter(name=DEMO_SOURCE).first()
    if source is None:
        return "Intake: no demo source yet; nothing switched on."
    checklist_defaults_ensure()
    made = 0
    for site in Site.objects.filter(is_active=True):  # keep_existing: a re-run keeps an admin's change
        locations = [f"Location/loc-{site.code}"]
        _, created = intake_site_upsert(
            site=site, source=source, enabled=True, location_refs=locations, keep_existing=True, by=None
        )
        made += created
    return f"Intake: switched on at {IntakeSite.objects.filter(enabled=True).count()} sites ({made} new)."
