"""Import a CSV or FHIR ConceptMap file as a new draft: all of it or nothing."""

from django.db import transaction
from django.utils import timezone

from apps.core.models import User

from ..exchange import FileInvalid, ParsedMap, file_parse
from ..models import ConceptMap, ConceptMapComment, ConceptMapVersion
from ..rows import rows_problems
from ..selectors import map_active_version
from ..workflow import ensure_steward
from .actor import audit_actor
from .versions import comment_add, map_lock, target_codes, version_create


def _map_for(parsed: ParsedMap, map_name: str | None) -> ConceptMap:
    maps = ConceptMap.objects.select_related("source_system", "target_system")
    if map_name:
        found = maps.filter(name=map_name).first()
        if found is None:
            names = ", ".join(maps.values_list("name", flat=True)) or "none yet"
            raise FileInvalid([f"There is no concept map named {map_name!r} (maps: {names})"])
        return found
    if parsed.format == "csv":
        raise FileInvalid(["A CSV file does not say which map it belongs to: name the map (--map NAME)"])
    found = None
    if parsed.url:
        found = maps.filter(url=parsed.url).first()
    if found is None:
        found = maps.filter(source_system__url=parsed.source_system, target_system__url=parsed.target_system).first()
    if found is None:
        raise FileInvalid(
            [
                f"No concept map has url {parsed.url!r} or maps {parsed.source_system} to {parsed.target_system}: "
                "create the map in the admin first, or name one (--map NAME)"
            ]
        )
    return found


@transaction.atomic
def version_import(
    *, parsed: ParsedMap, by: User | None, map_name: str | None = None, source_label: str = "a file"
) -> ConceptMapVersion:
    """A new draft of the map holding exactly the file's rows, if every row passes the rules.

    ``by`` None is the command line (an operator with shell access); the draft then has no
    author, so any steward other than the one who submits it may approve it."""
    if by is not None:
        ensure_steward(by)
    concept_map = map_lock(_map_for(parsed, map_name).pk)
    problems = []
    if parsed.source_system and parsed.source_system != concept_map.source_system.url:
        problems.append(
            f"The file maps {parsed.source_system}, but map {concept_map.name!r} reads {concept_map.source_system.url}"
        )
    if parsed.target_system and parsed.target_system != concept_map.target_system.url:
        problems.append(
            f"The file maps to {parsed.target_system}, but map {concept_map.name!r} maps to "
            f"{concept_map.target_system.url}"
        )
    if not parsed.rows:
        problems.append("The file has no rows")
    problems += rows_problems(
        parsed.rows, target_codes=target_codes(concept_map), target_title=concept_map.target_system.title
    )
    if problems:
        raise FileInvalid(problems)
    now = timezone.now()
    with audit_actor(by):
        version = version_create(
            concept_map=concept_map,
            by=by,
            rows=parsed.rows,
            based_on=map_active_version(concept_map.pk),
            note=f"Imported from {source_label}.",
            now=now,
        )
        comment_add(version, by, ConceptMapComment.Action.IMPORT, f"{len(parsed.rows)} rows from {source_label}.", now)
    return version


def version_import_file(
    *, name: str, content: bytes, by: User | None, map_name: str | None = None
) -> ConceptMapVersion:
    """Parse a .csv or FHIR ConceptMap .json file and import it as a new draft."""
    return version_import(parsed=file_parse(name, content), by=by, map_name=map_name, source_label=name)
