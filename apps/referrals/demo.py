"""Demo set-up for ``seed_demo``: an EHR source whose referrals route to the demo sites, the
SNOMED CT → specialty map that routing reads, and the SLA policies. Idempotent."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.core.models import Site
from apps.ehr.models import EhrSource
from apps.ehr.services.sources import source_upsert
from apps.terminology.models import CodeSystem, ConceptMap, ConceptMapElement
from apps.terminology.rows import Row
from apps.terminology.services.actor import audit_actor
from apps.terminology.services.versions import version_activate, version_approve, version_create
from apps.workflow.services import sla_policies_load

from .models import ReferralRoute
from .routing import SPECIALTY_SYSTEM

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


@transaction.atomic
def referrals_demo_seed(*, steward_username: str = "steward") -> str:
    """The demo source, routes, specialty map and SLA policies; a line for seed_demo's output."""
    policies = sla_policies_load()
    source = EhrSource.objects.filter(name=DEMO_SOURCE).first()
    source_note = "kept"
    if source is None:
        source, _ = source_upsert(name=DEMO_SOURCE)
        source_note = "created (python manage.py ehr_source demo-ehr --rotate-token prints a token)"
    north = Site.objects.get(code="north")
    ReferralRoute.objects.get_or_create(source=source, performer_ref="", specialty="", defaults={"site": north})
    for specialty, site_code in SPECIALTY_SITES.items():
        site = Site.objects.filter(code=site_code).first()
        if site:
            ReferralRoute.objects.get_or_create(
                source=source, performer_ref="", specialty=specialty, defaults={"site": site}
            )
    made_map = _snomed_map(steward_username)
    return (
        f"Referrals: source {DEMO_SOURCE} {source_note}; {ReferralRoute.objects.filter(source=source).count()} routes; "
        f"SNOMED specialty map {'created' if made_map else 'kept'}; {policies} SLA policies."
    )


def _snomed_map(steward_username: str) -> bool:
    steward = get_user_model().objects.filter(username=steward_username).first()
    if steward is None or ConceptMap.objects.filter(name=SNOMED_MAP).exists():
        return False
    now = timezone.now()
    with audit_actor(steward):
        snomed, _ = CodeSystem.objects.get_or_create(
            url=SNOMED, defaults={"name": "snomed-ct", "title": "SNOMED CT", "kind": CodeSystem.Kind.LOCAL}
        )
        concept_map = ConceptMap(
            name=SNOMED_MAP,
            title="SNOMED CT specialty → specialty",
            url=ConceptMap.default_url(SNOMED_MAP),
            description="Routes referrals by the canonical specialty (demo).",
            source_system=snomed,
            target_system=CodeSystem.objects.get(url=SPECIALTY_SYSTEM),
        )
        concept_map.save()
        # Go-live content: no author in clinops, so the steward's approval is the second pair of eyes.
        rows = [
            Row(code, ConceptMapElement.Relationship.EQUIVALENT, target, display)
            for code, display, target in SNOMED_ROWS
        ]
        version = version_create(
            concept_map=concept_map, by=None, rows=rows, based_on=None, note="Demo go-live.", now=now
        )
        version.submit(by=None, now=now)
        version.save()
    version_approve(version_id=version.pk, by=steward, comment="Demo content loaded by seed_demo.")
    version_activate(version_id=version.pk, by=steward)
    return True
