"""The rules a version's rows obey, checked before anything is written (edit, import, admin form)."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from apps.core.errors import ApplicationError

from .models import ConceptMapElement

Relationship = ConceptMapElement.Relationship
MAX_PROBLEMS_IN_MESSAGE = 5


@dataclass(frozen=True)
class Row:
    source_code: str
    relationship: str
    target_code: str = ""
    source_display: str = ""
    target_display: str = ""
    comment: str = ""

    @classmethod
    def of(cls, element: ConceptMapElement) -> "Row":
        return cls(**{f.name: getattr(element, f.name) for f in fields(cls)})

    def as_fields(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class RowsInvalid(ApplicationError):
    """One or more rows break the rules; ``problems`` lists every one."""

    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:MAX_PROBLEMS_IN_MESSAGE])
        more = (
            f" (and {len(problems) - MAX_PROBLEMS_IN_MESSAGE} more)" if len(problems) > MAX_PROBLEMS_IN_MESSAGE else ""
        )
        super().__init__(f"{shown}{more}", code="invalid_rows", extra={"problems": problems})
        self.problems = problems


def _limit(problems: list[str], where: str, name: str, value: str, size: int) -> None:
    if len(value) > size:
        problems.append(f"{where}: {name} is longer than {size} characters")


def rows_problems(rows: Iterable[Row], *, target_codes: set[str], target_title: str) -> list[str]:
    """Every rule a set of rows breaks, as sentences naming the row (1-based) and code."""
    rows = list(rows)
    problems: list[str] = []
    per_source: dict[str, list[Row]] = defaultdict(list)
    seen: dict[tuple[str, str], int] = {}
    for number, row in enumerate(rows, start=1):
        where = f"row {number} ({row.source_code or 'no code'})"
        if not row.source_code:
            problems.append(f"row {number}: the source code is empty")
            continue
        if row.source_code != row.source_code.strip() or (row.target_code != row.target_code.strip()):
            problems.append(f"{where}: a code has spaces at its start or end")
        _limit(problems, where, "the source code", row.source_code, 128)
        _limit(problems, where, "the target code", row.target_code, 128)
        _limit(problems, where, "the source display", row.source_display, 255)
        _limit(problems, where, "the target display", row.target_display, 255)
        if row.relationship not in Relationship.values:
            allowed = ", ".join(Relationship.values)
            problems.append(f"{where}: relationship {row.relationship!r} is not one of {allowed}")
            continue
        if row.relationship == Relationship.NOT_MAPPED:
            if row.target_code:
                problems.append(f"{where}: a not-mapped row has no target code (found {row.target_code!r})")
        elif not row.target_code:
            problems.append(f"{where}: a {row.relationship} row needs a target code")
        elif row.target_code not in target_codes:
            problems.append(f"{where}: {row.target_code!r} is not an active code of {target_title}")
        if row.relationship == Relationship.NARROWER and not row.comment.strip():
            # FHIR R4 ConceptMap invariant cmd-1: a narrower mapping says what is lost.
            problems.append(f"{where}: a narrower mapping needs a comment saying what meaning is lost")
        key = (row.source_code, row.target_code)
        if key in seen:
            problems.append(f"{where}: repeats row {seen[key]}")
        else:
            seen[key] = number
        per_source[row.source_code].append(row)
    for code, same in per_source.items():
        if len(same) > 1 and any(r.relationship == Relationship.NOT_MAPPED for r in same):
            problems.append(f"source code {code}: it is marked not mapped and also mapped; keep one")
    return problems


def rows_check(rows: Iterable[Row], *, target_codes: set[str], target_title: str) -> None:
    """Raise ``RowsInvalid`` listing every problem; nothing is written by the caller then."""
    if problems := rows_problems(rows, target_codes=target_codes, target_title=target_title):
        raise RowsInvalid(problems)


def row_from_mapping(data: dict[str, Any]) -> Row:
    """A row from form or file fields; missing text fields are empty, codes are kept as given."""
    return Row(
        source_code=str(data.get("source_code") or ""),
        relationship=str(data.get("relationship") or ""),
        target_code=str(data.get("target_code") or ""),
        source_display=str(data.get("source_display") or ""),
        target_display=str(data.get("target_display") or ""),
        comment=str(data.get("comment") or ""),
    )
