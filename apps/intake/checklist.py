"""Which checklist an appointment gets: the default items, overridden and extended per site and
per appointment type (``ChecklistItem``), the most specific row for a key winning."""

from dataclasses import dataclass

from django.db.models import Q

from apps.core.models import Site

from .models import ChecklistItem

# The keys EHR events tick (handlers.py); sites may add keys of their own.
DEMOGRAPHICS = "demographics"
INSURANCE = "insurance"
CONSENTS = "consents"
QUESTIONNAIRE = "questionnaire"
MEDICATIONS = "medications"

DEFAULT_ITEMS = [
    (DEMOGRAPHICS, "Demographics verified", 10),
    (INSURANCE, "Insurance eligibility checked", 20),
    (CONSENTS, "Consents signed", 30),
    (QUESTIONNAIRE, "Questionnaire completed", 40),
    (MEDICATIONS, "Medication list reviewed", 50),
]


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    position: int


def checklist_for(site: Site | int, appointment_type: str) -> list[Line]:
    """The active checklist for an appointment type at a site, in order."""
    site_id = site if isinstance(site, int) else site.pk
    rows = ChecklistItem.objects.filter(
        Q(site__isnull=True) | Q(site_id=site_id), appointment_type__in=["", appointment_type]
    )
    best: dict[str, ChecklistItem] = {}
    for row in rows:
        rank = (row.site_id is not None, row.appointment_type != "")
        current = best.get(row.key)
        if current is None or rank > (current.site_id is not None, current.appointment_type != ""):
            best[row.key] = row
    lines = [Line(r.key, r.label, r.position) for r in best.values() if r.active]
    return sorted(lines, key=lambda line: (line.position, line.key))


def checklist_defaults_ensure() -> int:
    """Create the default lines that are missing (migration 0002 does this; for fresh test databases)."""
    created = 0
    for key, label, position in DEFAULT_ITEMS:
        _, made = ChecklistItem.objects.get_or_create(
            key=key, site=None, appointment_type="", defaults={"label": label, "position": position}
        )
        created += made
    return created
