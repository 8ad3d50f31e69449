"""Terminology test data: code systems, maps with governed versions (the four-eyes flow, for
apps/terminology's tests), access-matrix helpers, and ``concept_map_active`` for other apps' tests
that only need a mapping to exist (an active version written directly)."""

from collections.abc import Callable, Sequence
from typing import Any

import factory
from django.db import transaction
from django.utils import timezone

from apps.core.roles import Role
from apps.terminology.models import CodeSystem, Concept, ConceptMap, ConceptMapElement, ConceptMapVersion, UnmappedCode
from apps.terminology.rows import Row
from apps.terminology.services import (
    version_activate,
    version_approve,
    version_draft_create,
    version_edit,
    version_submit,
)
from apps.terminology.services.versions import generation_bump
from apps.terminology.translation import translation_cache_expire
from apps.terminology.workflow import State
from tests.plugins.core import Factory, UserFactory

Relationship = ConceptMapElement.Relationship
PRIORITY = "http://hl7.org/fhir/request-priority"
LOCAL = "http://ehr.example.org/CodeSystem/priority"


class CodeSystemFactory(Factory):
    class Meta:
        model = CodeSystem
        django_get_or_create = ("url",)

    url = factory.Sequence(lambda n: f"http://example.org/CodeSystem/cs-{n}")
    name = factory.Sequence(lambda n: f"cs-{n}")
    title = factory.LazyAttribute(lambda o: o.name.replace("-", " ").title())
    kind = CodeSystem.Kind.LOCAL


class ConceptFactory(Factory):
    class Meta:
        model = Concept
        django_get_or_create = ("system", "code")

    system = factory.SubFactory(CodeSystemFactory, kind=CodeSystem.Kind.CANONICAL)
    code = factory.Sequence(lambda n: f"code-{n}")
    display = factory.LazyAttribute(lambda o: o.code.title())


class ConceptMapFactory(Factory):
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


# --- an active map for other apps' tests --------------------------------------------------


def _element(code: str, target: str) -> ConceptMapElement:
    relationship = Relationship.EQUIVALENT if target else Relationship.NOT_MAPPED
    return ConceptMapElement(source_code=code, relationship=relationship, target_code=target)


def _concept_map(name: str, *, source_url: str, target_url: str, title: str) -> ConceptMap:
    source, _ = CodeSystem.objects.get_or_create(
        url=source_url, defaults={"name": f"{name}-source", "title": title or name, "kind": CodeSystem.Kind.LOCAL}
    )
    concept_map, _ = ConceptMap.objects.get_or_create(
        name=name,
        defaults={"title": title or name, "url": ConceptMap.default_url(name), "source_system": source,
                  "target_system": CodeSystem.objects.get(url=target_url)},
    )  # fmt: skip
    return concept_map


@transaction.atomic
def _active_made_directly(concept_map: ConceptMap, rows: Sequence[tuple[str, str]]) -> ConceptMapVersion:
    now = timezone.now()
    author, approver = steward(), steward()
    previous = ConceptMapVersion.objects.filter(map=concept_map, state=State.ACTIVE).first()
    if previous is not None:  # one active version per map: the old one is retired first
        ConceptMapVersion.objects.filter(pk=previous.pk).update(
            state=State.RETIRED, retired_at=now, retired_by=approver, retired_reason="Replaced (test data)."
        )
    number = (ConceptMapVersion.objects.filter(map=concept_map).order_by("-number").values_list("number", flat=True)
              .first() or 0) + 1  # fmt: skip
    version = ConceptMapVersion.objects.create(
        map=concept_map, number=number, state=State.DRAFT, based_on=previous, author=author, last_editor=author
    )
    elements = [_element(code, target) for code, target in rows]
    for element in elements:
        element.version = version
    ConceptMapElement.objects.bulk_create(elements)  # rows can be written only while the version is a draft
    ConceptMapVersion.objects.filter(pk=version.pk).update(
        state=State.ACTIVE, submitted_by=author, submitted_at=now, approver=approver, approved_at=now,
        activated_by=approver, activated_at=now,
    )  # fmt: skip
    UnmappedCode.objects.filter(
        system=concept_map.source_system.url, code__in=[code for code, _ in rows], resolved_at__isnull=True
    ).update(resolved_at=now, resolved_by_version=version)
    generation_bump(now)
    translation_cache_expire()  # the test's transaction never commits: expire now, not on commit
    version.refresh_from_db()
    return version


def _active_through_the_services(concept_map: ConceptMap, rows: Sequence[tuple[str, str]]) -> ConceptMapVersion:
    author, approver = steward(), steward()
    draft = version_draft_create(map_id=concept_map.pk, by=author, note="")
    current = list(draft.elements.values_list("pk", flat=True))
    made = [
        Row(source_code=code, relationship=Relationship.EQUIVALENT if target else Relationship.NOT_MAPPED,
            target_code=target)
        for code, target in rows
    ]  # fmt: skip
    draft = version_edit(version_id=draft.pk, by=author, deletes=current, upserts=[(None, r) for r in made])
    version = version_submit(version_id=draft.pk, by=author)
    version_approve(version_id=version.pk, by=approver)
    return version_activate(version_id=version.pk, by=approver)


def concept_map_active(name: str, *, source_url: str, target_url: str, rows: Sequence[tuple[str, str]],
                       title: str = "", hooks: Any = None) -> ConceptMapVersion:  # fmt: skip
    """An active version of the map ``name`` from ``source_url`` to the canonical ``target_url``
    holding ``rows`` ((code, target) pairs; an empty target is "not mapped").

    Without ``hooks`` the version is written directly (no four-eyes flow, no after-commit work):
    for tests that only need the mapping to exist. With ``hooks`` (django_capture_on_commit_callbacks)
    it goes through the real services and runs their after-commit work (the activation callbacks
    other apps register), for tests of what an activation sets off."""
    concept_map = _concept_map(name, source_url=source_url, target_url=target_url, title=title)
    if hooks is None:
        return _active_made_directly(concept_map, rows)
    with hooks(execute=True):
        return _active_through_the_services(concept_map, rows)
