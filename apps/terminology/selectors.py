"""Reads: a version's rows and its diff, the maps an unmapped code belongs to."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from .models import CodeSystem, ConceptMap, ConceptMapElement, ConceptMapVersion, UnmappedCode
from .rows import Row
from .workflow import OPEN, State

NOT_MAPPED = ConceptMapElement.Relationship.NOT_MAPPED


@dataclass(frozen=True)
class Mapping:
    """Every row of one source code in one version."""

    source_code: str
    source_display: str
    rows: tuple[Row, ...]

    @property
    def mapped(self) -> bool:
        return any(row.relationship != NOT_MAPPED for row in self.rows)

    @property
    def summary(self) -> str:
        parts = []
        for row in self.rows:
            if row.relationship == NOT_MAPPED:
                parts.append("not mapped")
            else:
                label = f"{row.target_code} {row.target_display}".strip()
                parts.append(f"{label} ({row.relationship})")
        return "; ".join(parts)

    def signature(self) -> tuple:
        return (self.source_display, self.rows)


@dataclass(frozen=True)
class DiffEntry:
    source_code: str
    before: Mapping | None
    after: Mapping | None


@dataclass(frozen=True)
class VersionDiff:
    """What ``version`` changes relative to ``base`` (the active version, or the one it replaced)."""

    version: ConceptMapVersion
    base: ConceptMapVersion | None
    added: list[DiffEntry] = field(default_factory=list)
    changed: list[DiffEntry] = field(default_factory=list)
    removed: list[DiffEntry] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    @property
    def source_codes(self) -> set[str]:
        return {entry.source_code for entry in (*self.added, *self.changed, *self.removed)}


def version_rows(version: ConceptMapVersion | None) -> list[Row]:
    """The rows of a version, ordered by source and target code."""
    if version is None:
        return []
    return [Row.of(element) for element in version.elements.order_by("source_code", "target_code", "id")]


def rows_by_code(rows: Iterable[Row]) -> dict[str, Mapping]:
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[row.source_code].append(row)
    return {
        code: Mapping(
            code, next((r.source_display for r in same if r.source_display), ""), tuple(sorted(same, key=_key))
        )
        for code, same in grouped.items()
    }


def _key(row: Row) -> tuple[str, str]:
    return (row.target_code, row.relationship)


def rows_diff(before: Iterable[Row], after: Iterable[Row]) -> tuple[list[DiffEntry], list[DiffEntry], list[DiffEntry]]:
    """(added, changed, removed) per source code, each sorted by code."""
    old, new = rows_by_code(before), rows_by_code(after)
    added = [DiffEntry(code, None, new[code]) for code in sorted(new.keys() - old.keys())]
    removed = [DiffEntry(code, old[code], None) for code in sorted(old.keys() - new.keys())]
    changed = [
        DiffEntry(code, old[code], new[code])
        for code in sorted(old.keys() & new.keys())
        if old[code].signature() != new[code].signature()
    ]
    return added, changed, removed


def newly_mapped_codes(before: Iterable[Row], after: Iterable[Row]) -> frozenset[str]:
    """Codes that have a mapping in ``after`` and had none in ``before`` (absent or not mapped)."""
    old, new = rows_by_code(before), rows_by_code(after)
    return frozenset(code for code, m in new.items() if m.mapped and not (code in old and old[code].mapped))


def map_active_version(map_id: int) -> ConceptMapVersion | None:
    return ConceptMapVersion.objects.filter(map_id=map_id, state=State.ACTIVE).first()


def map_open_version(map_id: int) -> ConceptMapVersion | None:
    return ConceptMapVersion.objects.filter(map_id=map_id, state__in=OPEN).first()


def version_diff_base(version: ConceptMapVersion) -> ConceptMapVersion | None:
    """An open version is compared with the active one; an active or retired one with its predecessor."""
    if version.state in OPEN:
        return map_active_version(version.map_id)
    return version.based_on


def version_diff(version: ConceptMapVersion) -> VersionDiff:
    """The rows ``version`` adds, changes and removes against the active version (or its predecessor)."""
    base = version_diff_base(version)
    added, changed, removed = rows_diff(version_rows(base), version_rows(version))
    return VersionDiff(version=version, base=base, added=added, changed=changed, removed=removed)


def maps_for_system(system: str) -> QuerySet[ConceptMap]:
    """The maps that read codes of ``system`` (the ones a steward can add an unmapped code to)."""
    return ConceptMap.objects.filter(source_system__url=system).select_related("source_system", "target_system")


def unmapped_open_count() -> int:
    return UnmappedCode.objects.filter(resolved_at__isnull=True).count()


def unmapped_open_for(*, site_id: int, source_ids: Iterable[int]) -> list[UnmappedCode]:
    """Open unmapped codes that concern a site: codes of the site's own local systems, of its EHR
    sources' systems, or of a system no code system names yet (nobody can say it is not theirs)."""
    known = CodeSystem.objects.values_list("url", flat=True)
    theirs = CodeSystem.objects.filter(Q(site_id=site_id) | Q(source_id__in=list(source_ids))).values_list("url")
    return list(
        UnmappedCode.objects.filter(resolved_at__isnull=True)
        .filter(Q(system__in=theirs) | ~Q(system__in=known))
        .order_by("-last_seen")
    )
