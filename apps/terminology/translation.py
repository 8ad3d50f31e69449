"""``translate()``: a local code to a canonical one, from an in-memory table of active versions.

Ingestion and workflows call ``translate(system, code, target_system)`` for every coded field,
so a lookup is two dictionary reads, not a query. The table holds every active version's rows
and every canonical code system's active concepts (a canonical code "translates" to itself).

Keeping it current, in this process and in every other one (gunicorn workers, Celery workers):

- Whatever changes what is served (activating or retiring a version, loading canonical
  concepts) increments the one ``TranslationGeneration`` row in the same transaction.
- After that transaction commits, the process that made the change checks on its next lookup.
- Every process reads the generation row (one primary-key read) at most every
  ``settings.TERMINOLOGY_CACHE_CHECK_SECONDS`` (default ``DEFAULT_CHECK_SECONDS``, 5 s) and reloads
  the table when it changed (its counter and a random token: a rolled-back counter
  cannot pass for current). So another process serves a replaced version for at most
  that long after the commit; a scheduled activation is exact to the beat interval plus that.
- If the database cannot be read during a check, the table in memory keeps serving (logged).

Results:

- ``None``: no active version maps ``system`` to ``target_system`` (nothing governs that pair).
- ``Translation(outcome=MAPPED)``: one or more matches; ``target_code`` is the code when there
  is exactly one match (a code that maps to several needs the caller to choose: no guessing).
- ``Translation(outcome=NOT_MAPPED)``: the map says this code has no equivalent.
- ``Translation(outcome=UNMAPPED)``: the map does not know the code. Ingestion records it with
  ``services.unmapped_record`` and holds the item in its exceptions queue.

Codes compare exactly (FHIR codes are case-sensitive): ``STAT`` and ``stat`` are two rows.
"""

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import DatabaseError, transaction

if TYPE_CHECKING:
    from .models import ConceptMapVersion

logger = logging.getLogger(__name__)

DEFAULT_CHECK_SECONDS = 5.0


class Outcome(StrEnum):
    MAPPED = "mapped"
    NOT_MAPPED = "not-mapped"
    UNMAPPED = "unmapped"


@dataclass(frozen=True, slots=True)
class Match:
    code: str
    display: str
    relationship: str  # equivalent, wider, narrower


@dataclass(frozen=True, slots=True)
class Translation:
    system: str
    code: str
    target_system: str
    outcome: Outcome
    matches: tuple[Match, ...] = ()
    map_url: str = ""
    map_version: int | None = None

    @property
    def mapped(self) -> bool:
        return self.outcome is Outcome.MAPPED

    @property
    def target_code(self) -> str | None:
        """The canonical code when there is exactly one match, else None."""
        return self.matches[0].code if len(self.matches) == 1 else None

    @property
    def message(self) -> str:
        where = f"{self.map_url} version {self.map_version}" if self.map_url else self.target_system
        if self.outcome is Outcome.MAPPED:
            targets = ", ".join(f"{m.code} ({m.relationship})" for m in self.matches)
            return f"{self.code} in {self.system} maps to {targets} in {self.target_system} ({where})."
        if self.outcome is Outcome.NOT_MAPPED:
            return f"{self.code} in {self.system} has no equivalent in {self.target_system} ({where})."
        return f"{self.code} is not a known code of {self.system} for {self.target_system} ({where})."


@dataclass(frozen=True, slots=True)
class _MapTable:
    url: str
    version: int
    # source code -> its matches; () when the map says the code is not mapped
    codes: dict[str, tuple[Match, ...]]


@dataclass(slots=True)
class _Table:
    generation: tuple[int, str]  # (value, token) of the TranslationGeneration row it was loaded at
    maps: dict[tuple[str, str], _MapTable] = field(default_factory=dict)
    canonical: dict[str, dict[str, str]] = field(default_factory=dict)  # system -> code -> display


class _State:
    table: _Table | None = None
    checked_at: float = float("-inf")
    lock = threading.Lock()


def _check_seconds() -> float:
    return float(getattr(settings, "TERMINOLOGY_CACHE_CHECK_SECONDS", DEFAULT_CHECK_SECONDS))


def _generation_read() -> tuple[int, str]:
    from .models import TranslationGeneration

    # A savepoint, so that a failed read cannot break the caller's transaction.
    with transaction.atomic():
        row = TranslationGeneration.objects.filter(pk=1).values_list("value", "token").first()
    return row or (0, "")


def _table_load(generation: tuple[int, str]) -> _Table:
    from .models import CodeSystem, Concept, ConceptMapElement
    from .workflow import State

    table = _Table(generation=generation)
    rows = (
        ConceptMapElement.objects.filter(version__state=State.ACTIVE)
        .order_by("version_id", "source_code", "id")
        .values_list(
            "version__map__source_system__url",
            "version__map__target_system__url",
            "version__map__url",
            "version__number",
            "source_code",
            "relationship",
            "target_code",
            "target_display",
        )
    )
    grouped: dict[tuple[str, str], tuple[str, int, dict[str, list[Match]]]] = {}
    for source, target, url, number, code, relationship, target_code, target_display in rows.iterator():
        _, _, codes = grouped.setdefault((source, target), (url, number, {}))
        matches = codes.setdefault(code, [])
        if target_code:
            matches.append(Match(target_code, target_display, relationship))
    for key, (url, number, codes) in grouped.items():
        table.maps[key] = _MapTable(url=url, version=number, codes={c: tuple(m) for c, m in codes.items()})
    concepts = Concept.objects.filter(system__kind=CodeSystem.Kind.CANONICAL, active=True).values_list(
        "system__url", "code", "display"
    )
    for system, code, display in concepts.iterator():
        table.canonical.setdefault(system, {})[code] = display
    return table


def _table() -> _Table:
    table = _State.table
    now = time.monotonic()
    if table is not None and now - _State.checked_at < _check_seconds():
        return table
    with _State.lock:
        table = _State.table
        if table is not None and now - _State.checked_at < _check_seconds():
            return table  # another thread checked while this one waited
        try:
            # The generation is read before the rows: a table is never older than its number.
            generation = _generation_read()
            if table is None or table.generation != generation:
                table = _table_load(generation)
                _State.table = table
        except DatabaseError:
            if table is None:
                raise
            logger.warning(
                "terminology: cannot check the translation table; serving generation %s", table.generation[0]
            )
        _State.checked_at = now
        return table


def translation_cache_expire() -> None:
    """Check the generation on the next lookup (after this process committed a change)."""
    _State.checked_at = float("-inf")


def translation_cache_clear() -> None:
    """Drop this process's table; the next lookup reloads it (after a commit; in tests)."""
    with _State.lock:
        _State.table = None
        _State.checked_at = float("-inf")


def _lookup(table: _Table, system: str, code: str, target_system: str) -> Translation | None:
    if system == target_system:
        concepts = table.canonical.get(system)
        if concepts is None:
            return None
        display = concepts.get(code)
        if display is None:
            return Translation(system, code, target_system, Outcome.UNMAPPED)
        return Translation(system, code, target_system, Outcome.MAPPED, (Match(code, display, "equivalent"),))
    entry = table.maps.get((system, target_system))
    if entry is None:
        return None
    matches = entry.codes.get(code)
    if matches is None:
        outcome = Outcome.UNMAPPED
        matches = ()
    else:
        outcome = Outcome.MAPPED if matches else Outcome.NOT_MAPPED
    return Translation(system, code, target_system, outcome, matches, entry.url, entry.version)


def translate(system: str, code: str, target_system: str) -> Translation | None:
    """Translate ``code`` of ``system`` into ``target_system`` with the active versions (no query)."""
    return _lookup(_table(), system, code, target_system)


def translate_many(codings: Iterable[tuple[str, str]], target_system: str) -> list[Translation | None]:
    """``translate`` for many ``(system, code)`` pairs, in order, against one table."""
    table = _table()
    return [_lookup(table, system, code, target_system) for system, code in codings]


def targets_from(system: str) -> list[str]:
    """The target systems that active versions map ``system`` to."""
    return sorted(target for source, target in _table().maps if source == system)


def translate_version(version: "ConceptMapVersion", code: str) -> Translation:
    """Translate with one given version, active or not (a query: for reviewing a draft, $translate)."""
    concept_map = version.map
    system, target_system = concept_map.source_system.url, concept_map.target_system.url
    rows = list(version.elements.filter(source_code=code).order_by("target_code", "id"))
    matches = tuple(Match(r.target_code, r.target_display, r.relationship) for r in rows if r.target_code)
    outcome = Outcome.MAPPED if matches else Outcome.NOT_MAPPED if rows else Outcome.UNMAPPED
    return Translation(system, code, target_system, outcome, matches, concept_map.url, version.number)
