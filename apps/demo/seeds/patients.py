"""Patient reminders in the demo: each demo site's name and phone number as its patients see them
(on every reminder and link page). The reminders themselves are planned by the beat (and once at
make run's first start, demo_start), and printed by the console email and text backends."""

from django.db import transaction

from apps.core.models import Site
from apps.notifications.models import ClinicContact


@transaction.atomic
def demo_clinic_contacts_seed() -> str:
    """A patient contact per demo site (kept when an admin changed it); a line for seed_demo's output."""
    made = 0
    for n, site in enumerate(Site.objects.filter(is_active=True).order_by("code")):
        _, created = ClinicContact.objects.get_or_create(
            site=site, defaults={"name": site.name, "phone": f"+1 555 010 {200 + n:04d}"}
        )
        made += created
    return f"Patient reminders: clinic name and phone number at {ClinicContact.objects.count()} sites ({made} new)."
