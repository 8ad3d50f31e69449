"""A version's rows as CSV and as a FHIR R4 ConceptMap, and back (pure functions, no writes).

CSV columns: ``source_code, source_display, relationship, target_code, target_display, comment``
(``source_code`` and ``relationship`` are required; ``target_code`` unless not mapped).

Relationships are FHIR R4 ``ConceptMapEquivalence`` codes: clinops keeps equivalent, wider,
narrower and not-mapped (R4 ``unmatched``). On import ``equal`` reads as equivalent,
``subsumes`` as wider and ``specializes`` as narrower (the same direction, less precise);
``relatedto``, ``inexact`` and ``disjoint`` say too little to route on and are refused,
as are ``dependsOn``/``product`` (conditional maps) and ``group.unmapped`` (a default for
unknown codes: clinops sends those to the unmapped-codes queue instead of guessing).
"""

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from fhir.resources.R4B.conceptmap import ConceptMap as FhirConceptMap
from pydantic import ValidationError

from apps.core.csv_cells import SafeDictWriter, cell_unescape
from apps.core.errors import ApplicationError
from apps.core.json_input import JsonInputError, json_loads, text_problem

from .models import ConceptMapElement, ConceptMapVersion
from .rows import Row
from .workflow import State

Relationship = ConceptMapElement.Relationship
CSV_COLUMNS = ["source_code", "source_display", "relationship", "target_code", "target_display", "comment"]
CSV_REQUIRED = {"source_code", "relationship"}

TO_FHIR: dict[str, str] = {
    Relationship.EQUIVALENT: "equivalent",
    Relationship.WIDER: "wider",
    Relationship.NARROWER: "narrower",
    Relationship.NOT_MAPPED: "unmatched",
}
FROM_FHIR = {
    "equivalent": Relationship.EQUIVALENT,
    "equal": Relationship.EQUIVALENT,
    "wider": Relationship.WIDER,
    "subsumes": Relationship.WIDER,
    "narrower": Relationship.NARROWER,
    "specializes": Relationship.NARROWER,
    "unmatched": Relationship.NOT_MAPPED,
}
REFUSED_FHIR = {
    "relatedto": "says only that the codes are related",
    "inexact": "says the meanings only overlap",
    "disjoint": "says the codes are not related",
}
FHIR_STATUS = {
    State.DRAFT: "draft",
    State.IN_REVIEW: "draft",
    State.APPROVED: "draft",
    State.ACTIVE: "active",
    State.RETIRED: "retired",
}
MAX_PROBLEMS = 20


class FileInvalid(ApplicationError):
    """The file cannot become a draft; ``problems`` lists why."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS]
        more = f"\n… and {len(problems) - MAX_PROBLEMS} more" if len(problems) > MAX_PROBLEMS else ""
        super().__init__("\n".join(shown) + more, code="invalid_file", extra={"problems": problems})
        self.problems = problems


@dataclass
class ParsedMap:
    """What a file says: rows, and for FHIR the systems and the map's canonical URL."""

    format: str  # "csv" or "fhir"
    rows: list[Row] = field(default_factory=list)
    source_system: str = ""
    target_system: str = ""
    url: str = ""
    title: str = ""


def relationship_read(value: str) -> str | None:
    """A clinops relationship from a clinops value or a FHIR R4 equivalence code; None if unknown."""
    value = value.strip().lower()
    if value in Relationship.values:
        return value
    return FROM_FHIR.get(value)


# --- CSV ---------------------------------------------------------------------------------


def csv_parse(text: str) -> ParsedMap:
    """Rows from CSV text; every problem is collected before anything is refused."""
    text = text.removeprefix("\ufeff")
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _csv_rows(reader)
    except csv.Error as error:
        # A value longer than the csv module's field limit (131,072 characters), or a broken quote,
        # found on the line after the last one read whole.
        if "field larger than field limit" in str(error):
            problem = f"line {reader.line_num + 1}: a value is longer than {csv.field_size_limit():,} characters"
        else:
            problem = f"line {reader.line_num + 1}: {error}"
        raise FileInvalid([f"The CSV file cannot be read: {problem}"]) from None


def _csv_rows(reader: csv.DictReader) -> ParsedMap:
    header = [name.strip() for name in (reader.fieldnames or [])]
    if not header:
        raise FileInvalid(["The CSV file is empty: it needs a header row " + ",".join(CSV_COLUMNS)])
    problems = []
    if missing := CSV_REQUIRED - set(header):
        problems.append(f"The CSV header lacks {', '.join(sorted(missing))} (expected {','.join(CSV_COLUMNS)})")
    if unknown := [name for name in header if name not in CSV_COLUMNS]:
        problems.append(f"The CSV header has unknown columns {', '.join(unknown)} (expected {','.join(CSV_COLUMNS)})")
    if problems:
        raise FileInvalid(problems)
    reader.fieldnames = header
    parsed = ParsedMap(format="csv")
    for line, record in enumerate(reader, start=2):
        if None in record:
            problems.append(f"line {line}: more values than columns")
            continue
        values = {key: cell_unescape((value or "").strip()) for key, value in record.items()}
        if not any(values.values()):
            continue
        relationship = relationship_read(values.get("relationship", ""))
        if relationship is None:
            problems.append(
                f"line {line}: relationship {values.get('relationship', '')!r} is not one of "
                f"{', '.join(Relationship.values)}"
            )
            continue
        parsed.rows.append(
            Row(
                source_code=values.get("source_code", ""),
                source_display=values.get("source_display", ""),
                relationship=relationship,
                target_code=values.get("target_code", ""),
                target_display=values.get("target_display", ""),
                comment=values.get("comment", ""),
            )
        )
    if problems:
        raise FileInvalid(problems)
    return parsed


def csv_export(version: ConceptMapVersion) -> str:
    out = io.StringIO()
    writer = SafeDictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")  # formulas as text
    writer.writeheader()
    for element in version.elements.order_by("source_code", "target_code", "id"):
        writer.writerow({name: getattr(element, name) for name in CSV_COLUMNS})
    return out.getvalue()


# --- FHIR R4 ConceptMap ------------------------------------------------------------------


def _pydantic_problems(error: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc']) or 'resource'}: {e['msg']}" for e in error.errors()]


def fhir_parse(data: Any) -> ParsedMap:
    """Rows from a FHIR R4 ConceptMap (a dict from JSON) with one group; every problem is collected."""
    if not isinstance(data, dict) or data.get("resourceType") != "ConceptMap":
        found = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise FileInvalid([f"Expected a FHIR ConceptMap resource, found {found!r}"])
    try:
        resource = FhirConceptMap.model_validate(data)
    except ValidationError as error:
        raise FileInvalid(["The ConceptMap is not valid FHIR R4:", *_pydantic_problems(error)]) from None
    groups = resource.group or []
    if not groups:
        raise FileInvalid(["The ConceptMap has no group, so no rows: there is nothing to import"])
    if len(groups) != 1:
        raise FileInvalid(
            [
                f"The ConceptMap has {len(groups)} groups; clinops imports one source system to one target system "
                "(one group) per map: split the file"
            ]
        )
    group = groups[0]
    problems = []
    if not group.source or not group.target:
        problems.append("group.source and group.target (the code system URIs) are required")
    if group.unmapped is not None:
        problems.append(
            f"group.unmapped (mode {group.unmapped.mode}) is not supported: clinops sends unknown codes to the "
            "unmapped-codes queue instead of a default"
        )
    parsed = ParsedMap(
        format="fhir",
        source_system=group.source or "",
        target_system=group.target or "",
        url=resource.url or "",
        title=resource.title or resource.name or "",
    )
    for number, element in enumerate(group.element or [], start=1):
        where = f"group.element[{number - 1}]" + (f" ({element.code})" if element.code else "")
        if not element.code:
            problems.append(f"{where}: has no code")
            continue
        if not element.target:
            problems.append(f"{where}: has no target; say 'unmatched' explicitly for a code with no equivalent")
            continue
        for target in element.target:
            equivalence = target.equivalence or ""
            if target.dependsOn or target.product:
                problems.append(f"{where}: dependsOn/product (a conditional mapping) is not supported")
                continue
            if equivalence in REFUSED_FHIR:
                problems.append(
                    f"{where}: equivalence {equivalence!r} {REFUSED_FHIR[equivalence]}; clinops needs "
                    "equivalent, wider, narrower or unmatched to route on"
                )
                continue
            relationship = FROM_FHIR.get(equivalence)
            if relationship is None:
                problems.append(f"{where}: equivalence {equivalence!r} is not an R4 ConceptMapEquivalence code")
                continue
            parsed.rows.append(
                Row(
                    source_code=element.code,
                    source_display=element.display or "",
                    relationship=relationship,
                    target_code=target.code or "",
                    target_display=target.display or "",
                    comment=target.comment or "",
                )
            )
    if problems:
        raise FileInvalid(problems)
    return parsed


def _fhir_name(name: str) -> str:
    # ConceptMap.name should be machine-usable (R4 cmd-0: [A-Z]([A-Za-z0-9_]){0,254}).
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name) if w]
    pascal = "".join(w[:1].upper() + w[1:] for w in words) or "ConceptMap"
    return pascal if pascal[0].isalpha() else f"Map{pascal}"


def fhir_export(version: ConceptMapVersion) -> dict[str, Any]:
    """The version as a FHIR R4 ConceptMap (checked against fhir.resources' R4B model)."""
    concept_map = version.map
    when = version.activated_at or version.approved_at or version.created_at or timezone.now()
    resource: dict[str, Any] = {
        "resourceType": "ConceptMap",
        "id": f"{concept_map.name}-v{version.number}"[:64],
        "url": concept_map.url,
        "version": str(version.number),
        "name": _fhir_name(concept_map.name),
        "title": concept_map.title,
        "status": FHIR_STATUS[version.state],
        "date": when.isoformat(),
        "publisher": "clinops",
    }
    if concept_map.description:
        resource["description"] = concept_map.description
    elements: dict[str, dict[str, Any]] = {}
    for row in version.elements.order_by("source_code", "target_code", "id"):
        element = elements.setdefault(row.source_code, {"code": row.source_code, "target": []})
        if row.source_display and "display" not in element:
            element["display"] = row.source_display
        target: dict[str, Any] = {"equivalence": TO_FHIR[row.relationship]}
        if row.target_code:
            target["code"] = row.target_code
        if row.target_display:
            target["display"] = row.target_display
        if row.comment:
            target["comment"] = row.comment
        element["target"].append(target)
    if elements:  # R4: a group has at least one element
        resource["group"] = [
            {
                "source": concept_map.source_system.url,
                "target": concept_map.target_system.url,
                "element": list(elements.values()),
            }
        ]
    FhirConceptMap.model_validate(resource)
    return resource


def file_parse(name: str, content: bytes) -> ParsedMap:
    """A CSV (by extension ``.csv``) or FHIR JSON file's rows; clear errors for anything else."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileInvalid([f"{name} is not UTF-8 text"]) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise FileInvalid([f"{name} holds a NUL character (line {line}): it is not a text file"])
    if name.lower().endswith(".csv"):
        parsed = csv_parse(text)
    else:
        try:
            data = json_loads(text)
        except JsonInputError as error:
            kind = "FHIR JSON" if name.lower().endswith(".json") else "a .csv or FHIR ConceptMap .json file"
            raise FileInvalid([f"{name} is not {kind}: {error.message}"]) from None
        parsed = fhir_parse(data)
    _refuse_non_text(parsed)
    return parsed


def _refuse_non_text(parsed: ParsedMap) -> None:
    """A value PostgreSQL cannot store as text (a NUL, e.g. ``\\u0000`` in JSON) is refused here."""
    problems = []
    for number, row in enumerate(parsed.rows, start=1):
        for name, value in row.as_fields().items():
            if problem := text_problem(value):
                problems.append(f"row {number}: {name} {problem}")
    for name in ("source_system", "target_system", "url", "title"):
        if problem := text_problem(getattr(parsed, name)):
            problems.append(f"{name} {problem}")
    if problems:
        raise FileInvalid(problems)
