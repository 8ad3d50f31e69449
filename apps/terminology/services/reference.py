"""Reference data (the canonical code sets in ``fixtures/terminology_*.json``) and demo content."""

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.core.errors import ApplicationError
from apps.core.models import Site

from ..models import CodeSystem, Concept, ConceptMap, ConceptMapElement
from ..rows import Row
from .actor import audit_actor
from .unmapped import unmapped_record
from .versions import (
    generation_bump,
    version_activate,
    version_approve,
    version_create,
    version_draft_create,
    version_edit,
)

REFERENCE_DIR = Path(settings.BASE_DIR) / "fixtures"
REQUEST_PRIORITY = "http://hl7.org/fhir/request-priority"
Relationship = ConceptMapElement.Relationship


def _set(obj: Any, values: dict[str, Any]) -> bool:
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, values[name])
    return bool(changed)


@transaction.atomic
def terminology_reference_load(*, directory: Path | None = None) -> tuple[int, int]:
    """Create or update the canonical code systems of the reference data; a concept no longer
    listed is made inactive, never deleted. Safe to re-run. Returns (systems, active concepts)."""
    now = timezone.now()
    changed = False
    systems = concepts = 0
    for path in sorted((directory or REFERENCE_DIR).glob("terminology_*.json")):
        data = json.loads(path.read_text())
        system = CodeSystem.objects.filter(url=data["url"]).first()
        if system is not None and system.kind != CodeSystem.Kind.CANONICAL:
            raise ApplicationError(f"{path.name}: {data['url']} is already a local code system.", code="conflict")
        values = {"name": data["name"], "title": data["title"], "description": data.get("description", "")}
        if system is None:
            system = CodeSystem(url=data["url"], kind=CodeSystem.Kind.CANONICAL, **values)
            system.full_clean()
            system.save()
            changed = True
        elif _set(system, values):
            system.save()
            changed = True
        existing = {concept.code: concept for concept in system.concepts.all()}
        listed = set()
        for item in data["concepts"]:
            listed.add(item["code"])
            concept = existing.get(item["code"])
            if concept is None:
                Concept(system=system, code=item["code"], display=item["display"]).save()
                changed = True
            elif _set(concept, {"display": item["display"], "active": True}):
                concept.save()
                changed = True
        for code, concept in existing.items():
            if code not in listed and concept.active:
                concept.active = False
                concept.save()
                changed = True
        systems += 1
        concepts += len(listed)
    if changed:
        generation_bump(now)
    return systems, concepts


# --- demo content (seed_demo only) -----------------------------------------------------------

DEMO_MAP = "north-ehr-priority"
DEMO_SYSTEM = "http://north-ehr.example.org/fhir/CodeSystem/order-priority"
DEMO_CODES = [
    ("R", "Routine"),
    ("U", "Urgent"),
    ("A", "As soon as possible"),
    ("S", "Stat"),
    ("T", "Timing critical"),
    ("P", "Pre-op"),
]
DEMO_ACTIVE = [
    Row("R", Relationship.EQUIVALENT, "routine", "Routine", "Routine"),
    Row("U", Relationship.EQUIVALENT, "urgent", "Urgent", "Urgent"),
    Row("A", Relationship.EQUIVALENT, "asap", "As soon as possible", "ASAP"),
    Row("S", Relationship.EQUIVALENT, "stat", "Stat", "STAT"),
    Row("T", Relationship.NOT_MAPPED, "", "Timing critical", comment="Ask the lab what this means."),
]


@transaction.atomic
def terminology_demo_load(*, steward_username: str = "steward") -> bool:
    """A local priority code system of the North Clinic's EHR, its map with an active version and
    an open draft, and two unmapped codes. Created once; False when it exists (or no steward)."""
    steward = get_user_model().objects.filter(username=steward_username).first()
    if steward is None or ConceptMap.objects.filter(name=DEMO_MAP).exists():
        return False
    now = timezone.now()
    with audit_actor(steward):
        local = CodeSystem(
            url=DEMO_SYSTEM,
            name="north-ehr-order-priority",
            title="North EHR order priority",
            kind=CodeSystem.Kind.LOCAL,
            description="Priority codes the North Clinic's EHR puts on orders and referrals (demo).",
            site=Site.objects.filter(code="north").first(),
        )
        local.save()
        for code, display in DEMO_CODES:
            Concept(system=local, code=code, display=display).save()
        concept_map = ConceptMap(
            name=DEMO_MAP,
            title="North EHR priority → request priority",
            url=ConceptMap.default_url(DEMO_MAP),
            description="Routes North Clinic orders by the canonical request priority (demo).",
            source_system=local,
            target_system=CodeSystem.objects.get(url=REQUEST_PRIORITY),
        )
        concept_map.save()
        # Version 1 stands for content that came with the EHR go-live: no author in clinops,
        # submitted by the system and approved by the steward (four eyes hold: one person).
        first = version_create(
            concept_map=concept_map, by=None, rows=DEMO_ACTIVE, based_on=None, note="Demo go-live content.", now=now
        )
        first.submit(by=None, now=now)
        first.save()
    version_approve(version_id=first.pk, by=steward, comment="Demo content loaded by seed_demo.")
    version_activate(version_id=first.pk, by=steward)
    draft = version_draft_create(map_id=concept_map.pk, by=steward, note="Map Pre-op and Timing critical (demo).")
    by_code = {element.source_code: element.pk for element in draft.elements.all()}
    version_edit(
        version_id=draft.pk,
        by=steward,
        upserts=[
            (None, Row("P", Relationship.WIDER, "urgent", "Pre-op", "Urgent")),
            (by_code["T"], Row("T", Relationship.EQUIVALENT, "stat", "Timing critical", "STAT")),
        ],
    )
    for example in ("inbox:demo-1", "inbox:demo-2", "inbox:demo-3"):
        unmapped_record(DEMO_SYSTEM, "P", "Pre-op", example)
    unmapped_record(DEMO_SYSTEM, "X9", "", "inbox:demo-4")
    return True


def terminology_demo_seed() -> str:
    """seed_demo's one call: the reference data, then the demo map; a line for its output."""
    systems, concepts = terminology_reference_load()
    created = terminology_demo_load()
    demo = "demo map created" if created else "demo map kept"
    return f"Terminology: {systems} canonical code systems, {concepts} concepts; {demo}."
