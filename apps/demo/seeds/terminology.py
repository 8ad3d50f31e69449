"""The canonical code sets, and the North Clinic EHR's priority codes under governance: a map
with an active version (four eyes), an open draft and two unmapped codes for the steward."""

from django.db import transaction

from apps.core.models import Site
from apps.terminology.models import CodeSystem, ConceptMap, ConceptMapElement
from apps.terminology.rows import Row
from apps.terminology.services import (
    code_system_create,
    terminology_reference_load,
    unmapped_record,
    version_draft_create,
    version_edit,
)

from .maps import map_seed_active, stewards

REQUEST_PRIORITY = "http://hl7.org/fhir/request-priority"
Relationship = ConceptMapElement.Relationship
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


def demo_priority_map_seed() -> bool:
    """The North EHR's local priority codes, their map's active version 1 (steward2 drafts, steward
    approves), a draft version 2 by steward and unmapped codes. Created once; False when it exists."""
    people = stewards()
    if people is None or ConceptMap.objects.filter(name=DEMO_MAP).exists():
        return False
    author, approver = people
    north = Site.objects.filter(code="north").first()
    with transaction.atomic():
        if not CodeSystem.objects.filter(url=DEMO_SYSTEM).exists():
            code_system_create(
                url=DEMO_SYSTEM,
                name="north-ehr-order-priority",
                title="North EHR order priority",
                description="Priority codes the North Clinic's EHR puts on orders and referrals (demo).",
                site_id=north.pk if north else None,
                concepts=DEMO_CODES,
                by=author,
            )
        active = map_seed_active(
            name=DEMO_MAP,
            title="North EHR priority → request priority",
            description="Routes North Clinic orders by the canonical request priority (demo).",
            source_system_url=DEMO_SYSTEM,
            target_system_url=REQUEST_PRIORITY,
            rows=DEMO_ACTIVE,
            note="Demo go-live content.",
            author=author,
            approver=approver,
        )
        draft = version_draft_create(map_id=active.map_id, by=approver, note="Map Pre-op and Timing critical (demo).")
        by_code = {element.source_code: element.pk for element in draft.elements.all()}
        version_edit(
            version_id=draft.pk,
            by=approver,
            upserts=[
                (None, Row("P", Relationship.WIDER, "urgent", "Pre-op", "Urgent")),
                (by_code["T"], Row("T", Relationship.EQUIVALENT, "stat", "Timing critical", "STAT")),
            ],
        )
        for example in ("inbox:demo-1", "inbox:demo-2", "inbox:demo-3"):
            unmapped_record(DEMO_SYSTEM, "P", "Pre-op", example)
        unmapped_record(DEMO_SYSTEM, "X9", "", "inbox:demo-4")
    return True


def demo_terminology_seed() -> str:
    """The reference code sets, then the demo priority map; a line for seed_demo's output."""
    systems, concepts = terminology_reference_load()
    demo = "demo map created" if demo_priority_map_seed() else "demo map kept"
    return f"Terminology: {systems} canonical code systems, {concepts} concepts; {demo}."
