"""The demo EHR source, whose referrals route to the demo sites; the SNOMED CT → specialty map that
routing reads (governed: four eyes); the SLA policies."""

from django.db import transaction

from apps.core.models import Site
from apps.ehr.models import EhrSource
from apps.ehr.services.sources import source_upsert
from apps.referrals.models import ReferralRoute
from apps.referrals.routing import SPECIALTY_SYSTEM
from apps.terminology.models import CodeSystem, ConceptMap, ConceptMapElement
from apps.terminology.rows import Row
from apps.terminology.services import code_system_create
from apps.workflow.services import sla_policies_load

from .maps import map_seed_active, stewards

DEMO_SOURCE = "demo-ehr"
SNOMED = "http://snomed.info/sct"
SNOMED_MAP = "snomed-specialty"
# SNOMED CT "… service" / specialty codes → canonical specialties. Dermatology (394582007)
# is left out on purpose: demo referrals for it wait in the exceptions queue for a steward.
SNOMED_ROWS = [
    ("394579002", "Cardiology", "cardiology"),
    ("394591006", "Neurology", "neurology"),
    ("394801008", "Trauma and orthopaedics", "orthopedics"),
    ("394584008", "Gastroenterology", "gastroenterology"),
    ("394583002", "Endocrinology", "endocrinology"),
    ("418112009", "Pulmonary medicine", "pulmonology"),
    ("394814009", "General practice", "primary-care"),
]
# canonical specialty → demo site
SPECIALTY_SITES = {"neurology": "south", "gastroenterology": "south", "pulmonology": "south", "endocrinology": "west"}


def demo_referrals_seed() -> str:
    """The demo source, routes, specialty map and SLA policies; a line for seed_demo's output."""
    policies = sla_policies_load()
    source = EhrSource.objects.filter(name=DEMO_SOURCE).first()
    source_note = "kept"
    if source is None:
        source, _ = source_upsert(name=DEMO_SOURCE)
        source_note = "created (python manage.py ehr_source demo-ehr --rotate-token prints a token)"
    _routes(source)
    made_map = _snomed_map()
    return (
        f"Referrals: source {DEMO_SOURCE} {source_note}; {ReferralRoute.objects.filter(source=source).count()} routes; "
        f"SNOMED specialty map {'created' if made_map else 'kept'}; {policies} SLA policies."
    )


@transaction.atomic
def _routes(source: EhrSource) -> None:
    # Routing configuration, which has no service of its own: the admin edits these rows.
    north = Site.objects.get(code="north")
    ReferralRoute.objects.get_or_create(source=source, performer_ref="", specialty="", defaults={"site": north})
    for specialty, site_code in SPECIALTY_SITES.items():
        site = Site.objects.filter(code=site_code).first()
        if site:
            ReferralRoute.objects.get_or_create(
                source=source, performer_ref="", specialty=specialty, defaults={"site": site}
            )


def _snomed_map() -> bool:
    people = stewards()
    if people is None or ConceptMap.objects.filter(name=SNOMED_MAP).exists():
        return False
    author, approver = people
    with transaction.atomic():
        if not CodeSystem.objects.filter(url=SNOMED).exists():
            code_system_create(url=SNOMED, name="snomed-ct", title="SNOMED CT", by=author)
        map_seed_active(
            name=SNOMED_MAP,
            title="SNOMED CT specialty → specialty",
            description="Routes referrals by the canonical specialty (demo).",
            source_system_url=SNOMED,
            target_system_url=SPECIALTY_SYSTEM,
            rows=[
                Row(code, ConceptMapElement.Relationship.EQUIVALENT, target, display)
                for code, display, target in SNOMED_ROWS
            ],
            note="Demo go-live.",
            author=author,
            approver=approver,
        )
    return True
