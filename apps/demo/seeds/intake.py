"""Intake switched on at every demo site for the demo EHR source, each site being the Location the
simulated feed (``generator.py``) books its appointments at."""

from django.db import transaction

from apps.core.models import Site
from apps.ehr.models import EhrSource
from apps.intake.checklist import checklist_defaults_ensure
from apps.intake.models import IntakeSite

DEMO_SOURCE = "demo-ehr"


@transaction.atomic
def demo_intake_seed() -> str:
    """Switch intake on at the demo sites (Location/loc-<site code>); a line for seed_demo's output."""
    source = EhrSource.objects.filter(name=DEMO_SOURCE).first()
    if source is None:
        return "Intake: no demo source yet; nothing switched on."
    checklist_defaults_ensure()
    made = 0
    # Intake configuration, which has no service of its own: the admin edits these rows.
    for site in Site.objects.filter(is_active=True):
        _, created = IntakeSite.objects.get_or_create(
            site=site, defaults={"source": source, "enabled": True, "location_refs": [f"Location/loc-{site.code}"]}
        )
        made += created
    return f"Intake: switched on at {IntakeSite.objects.filter(enabled=True).count()} sites ({made} new)."
