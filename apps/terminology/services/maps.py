"""Creating what change control works on: a local code system (an EHR's own codes) and a concept map.

A new map maps nothing: its content comes through versions (``versions.py``: draft, submit,
approve by another steward, activate)."""

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.core.errors import ApplicationError, ConflictError

from ..models import CodeSystem, Concept, ConceptMap
from ..workflow import ensure_steward
from .actor import audit_actor


def _system(url: str) -> CodeSystem:
    system = CodeSystem.objects.filter(url=url).first()
    if system is None:
        raise ApplicationError(f"There is no code system {url}.", code="not_found")
    return system


def _valid(obj: Any) -> None:
    try:
        obj.full_clean()
    except ValidationError as error:
        problems = [f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items()]
        raise ApplicationError("; ".join(problems), code="invalid") from None


@transaction.atomic
def code_system_create(
    *,
    url: str,
    name: str,
    title: str,
    by: Any,
    description: str = "",
    site_id: int | None = None,
    concepts: Iterable[tuple[str, str]] = (),
) -> CodeSystem:
    """A local code system with its concepts (code, display); stewards only, audited as ``by``."""
    ensure_steward(by)
    if CodeSystem.objects.filter(url=url).exists():
        raise ConflictError(f"The code system {url} exists already.", code="exists")
    system = CodeSystem(
        url=url, name=name, title=title, kind=CodeSystem.Kind.LOCAL, description=description, site_id=site_id
    )
    _valid(system)
    with audit_actor(by):
        system.save()
        for code, display in concepts:
            Concept(system=system, code=code, display=display).save()
    return system


@transaction.atomic
def concept_map_create(
    *, name: str, title: str, source_system_url: str, target_system_url: str, by: Any, description: str = ""
) -> ConceptMap:
    """A concept map from a code system to a canonical one, with no version yet; stewards only."""
    ensure_steward(by)
    target = _system(target_system_url)
    if target.kind != CodeSystem.Kind.CANONICAL:
        raise ApplicationError(f"{target.title} is not canonical: a map points to what workflows route on.")
    concept_map = ConceptMap(
        name=name,
        title=title,
        url=ConceptMap.default_url(name),
        description=description,
        source_system=_system(source_system_url),
        target_system=target,
    )
    _valid(concept_map)
    with audit_actor(by):
        concept_map.save()
    return concept_map
