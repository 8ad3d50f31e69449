"""Terminology test data: code systems, maps with governed versions, and access-matrix helpers."""

from collections.abc import Callable, Sequence
from typing import Any

import factory
from django.db import transaction

from apps.core.roles import Role
from apps.core.tests.factories import UserFactory
from apps.terminology.models import CodeSystem, Concept, ConceptMap, ConceptMapElement, ConceptMapVersion, UnmappedCode
from apps.terminology.rows import Row
from apps.terminology.services import (
    version_activate,
    version_approve,
    version_draft_create,
    version_edit,
    version_submit,
)
from apps.terminology.workflow import State

Relationship = ConceptMapElement.Relationship
PRIORITY = "http://hl7.org/fhir/request-priority"
LOCAL = "http://ehr.example.org/CodeSystem/priority"


class CodeSystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CodeSystem
        django_get_or_create = ("url",)

    url = factory.Sequence(lambda n: f"http://example.org/CodeSystem/cs-{n}")
    name = factory.Sequence(lambda n: f"cs-{n}")
    title = factory.LazyAttribute(lambda o: o.name.replace("-", " ").title())
    kind = CodeSystem.Kind.LOCAL


class ConceptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Concept
        django_get_or_create = ("system", "code")

    system = factory.SubFactory(CodeSystemFactory, kind=CodeSystem.Kind.CANONICAL)
    code = factory.Sequence(lambda n: f"code-{n}")
    display = factory.LazyAttribute(lambda o: o.code.title())


class ConceptMapFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConceptMap
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"map-{n}")
    title = factory.LazyAttribute(lambda o: f"Map {o.name}")
    url = factory.LazyAttribute(lambda o: ConceptMap.default_url(o.name))
    source_system = factory.SubFactory(CodeSystemFactory)
    target_system = factory.SubFactory(CodeSystemFactory, kind=CodeSystem.Kind.CANONICAL)


def steward(username: str | None = None, **fields: Any) -> Any:
    kwargs = {"username": username} if username else {}
    return UserFactory(role=Role.TERMINOLOGY_STEWARD, **kwargs, **fields)


def canonical_priority() -> CodeSystem:
    system = CodeSystemFactory(url=PRIORITY, name="request-priority", title="Request priority", kind="canonical")
    for code, display in [("routine", "Routine"), ("urgent", "Urgent"), ("asap", "ASAP"), ("stat", "STAT")]:
        ConceptFactory(system=system, code=code, display=display)
    return system


def priority_map(name: str = "ehr-priority", source_url: str = LOCAL) -> ConceptMap:
    """A map from a local priority system to the canonical request priority (no versions yet)."""
    source = CodeSystemFactory(url=source_url, name=f"{name}-codes", title="EHR priority")
    return ConceptMapFactory(
        name=name, title="EHR priority to request priority", source_system=source, target_system=canonical_priority()
    )


def row(code: str, target: str = "", relationship: str = Relationship.EQUIVALENT, **fields: str) -> Row:
    if not target:
        relationship = Relationship.NOT_MAPPED
    return Row(source_code=code, relationship=relationship, target_code=target, **fields)


DEFAULT_ROWS = (row("S", "stat"), row("R", "routine"), row("U", "urgent"))


def draft_with(concept_map: ConceptMap, rows: Sequence[Row], *, by: Any, note: str = "") -> ConceptMapVersion:
    """A draft of the map whose rows are exactly ``rows`` (through the services)."""
    draft = version_draft_create(map_id=concept_map.pk, by=by, note=note)
    current = list(draft.elements.values_list("pk", flat=True))
    return version_edit(version_id=draft.pk, by=by, deletes=current, upserts=[(None, r) for r in rows])


def in_review(concept_map: ConceptMap, rows: Sequence[Row] = DEFAULT_ROWS, *, author: Any) -> ConceptMapVersion:
    draft = draft_with(concept_map, rows, by=author)
    return version_submit(version_id=draft.pk, by=author)


def activated(
    concept_map: ConceptMap, rows: Sequence[Row] = DEFAULT_ROWS, *, author: Any, approver: Any
) -> ConceptMapVersion:
    """A version that went through the whole flow: drafted, submitted, approved by another steward, activated."""
    version = in_review(concept_map, rows, author=author)
    version_approve(version_id=version.pk, by=approver)
    return version_activate(version_id=version.pk, by=approver)


def activated_now(concept_map: ConceptMap, rows: Sequence[Row], *, author: Any, approver: Any, hooks: Any) -> Any:
    """``activated`` with the after-commit work run (``hooks`` is django_capture_on_commit_callbacks)."""
    with hooks(execute=True):
        return activated(concept_map, rows, author=author, approver=approver)


def map_active(name: str, *, source_url: str, target_url: str, rows: Sequence[tuple[str, str]], title: str = "",
               hooks: Any = None) -> ConceptMapVersion:  # fmt: skip
    """An active version of the map ``name`` from ``source_url`` to the canonical ``target_url``
    holding ``rows`` ((code, target) pairs), made by two stewards; ``hooks`` runs the after-commit work."""
    from apps.terminology.services.reference import terminology_reference_load

    terminology_reference_load()
    source = CodeSystemFactory(url=source_url, name=f"{name}-source", title=title or name)
    concept_map, _ = ConceptMap.objects.get_or_create(
        name=name,
        defaults={"title": title or name, "url": ConceptMap.default_url(name), "source_system": source,
                  "target_system": CodeSystem.objects.get(url=target_url)},
    )  # fmt: skip
    author, approver = steward(), steward()
    made = [row(code, target) for code, target in rows]
    if hooks is None:
        return activated(concept_map, made, author=author, approver=approver)
    with hooks(execute=True):
        return activated(concept_map, made, author=author, approver=approver)


# --- the access matrix (tests/access_matrix.py) ---------------------------------------------


def _matrix_version(state: str) -> ConceptMapVersion:
    with transaction.atomic():
        concept_map = priority_map(name="matrix-priority", source_url="http://matrix.example.org/priority")
        author, approver = steward("matrix-author"), steward("matrix-approver")
        if state == State.DRAFT:
            return draft_with(concept_map, DEFAULT_ROWS, by=author)
        version = in_review(concept_map, author=author)
        if state == State.IN_REVIEW:
            return version
        return version_approve(version_id=version.pk, by=approver)


def matrix_version(state: str = State.DRAFT, transition: str | None = None) -> Callable[[Any], dict[str, Any]]:
    """URL kwargs for a version in ``state`` (not site-scoped: the same at any site)."""

    def kwargs(site: Any) -> dict[str, Any]:
        version = _matrix_version(state)
        return {"pk": version.pk, **({"name": transition} if transition else {})}

    return kwargs


def matrix_map(site: Any) -> dict[str, Any]:
    return {"pk": priority_map(name="matrix-priority", source_url="http://matrix.example.org/priority").pk}


def matrix_unmapped(site: Any) -> dict[str, Any]:
    code, _ = UnmappedCode.objects.get_or_create(system="http://matrix.example.org/unknown", code="Z")
    return {"pk": code.pk}
