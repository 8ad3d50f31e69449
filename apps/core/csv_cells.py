"""The one CSV writer for every export (audit report, KPI scorecards and items, ConceptMap rows).

A spreadsheet opening a CSV runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in
some, a tab or carriage return before them) as a formula: ``=HYPERLINK("https://evil", "x")``
in a code's display text becomes a link, ``=cmd|…`` worse (OWASP "CSV Injection"). Such a text
cell is written with a leading apostrophe, which spreadsheets show as text and do not run.

Why our own and not defusedcsv: it is these few lines (the audit report already did this), and
two things matter here that a generic wrapper does not give: numbers stay numbers (a negative
duration is a value, not a formula), and ``cell_unescape`` undoes exactly what ``cell_escape``
did, so an exported ConceptMap imports back unchanged (``'=x`` is written as ``''=x``).
"""

import csv
from collections.abc import Iterable, Mapping
from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _runs_as_formula(text: str) -> bool:
    """A formula, once any apostrophes in front are taken away (so escaping can be undone)."""
    bare = text.lstrip("'")
    return bare[:1] in TRIGGERS and not _is_number(bare)


def cell_escape(value: Any) -> Any:
    """The value as written to CSV: a text that a spreadsheet would run gets a leading ``'``."""
    if not isinstance(value, str):
        return value
    return f"'{value}" if _runs_as_formula(value) else value


def cell_unescape(value: str) -> str:
    """What ``cell_escape`` was given, from what it wrote (for imports of our own exports)."""
    return value[1:] if value[:1] == "'" and _runs_as_formula(value[1:]) else value


class SafeWriter:
    """``csv.writer`` whose rows are escaped cell by cell."""

    def __init__(self, out: Any, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([cell_escape(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter(csv.DictWriter):
    """``csv.DictWriter`` whose values are escaped (the header is ours)."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({key: cell_escape(value) for key, value in rowdict.items()})


def csv_writer(out: Any, **options: Any) -> SafeWriter:
    return SafeWriter(out, **options)
