"""Reference data: the canonical code sets in ``fixtures/terminology_*.json``."""

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.errors import ApplicationError

from ..models import CodeSystem, Concept
from .versions import generation_bump

REFERENCE_DIR = Path(settings.BASE_DIR) / "fixtures"


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
