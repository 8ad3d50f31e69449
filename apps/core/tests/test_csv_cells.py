"""One CSV writer everywhere: formulas written as text, reversibly; numbers left alone."""

import csv
import io
import re
from pathlib import Path

import pytest
from django.conf import settings

from apps.core.csv_cells import cell_escape, cell_unescape, csv_writer


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-x", "'-x"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("'=x", "''=x"),
        ("-5", "-5"),
        ("+1.5", "+1.5"),
        ("'hello", "'hello"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_a_cell_is_escaped_only_when_a_spreadsheet_would_run_it_and_unescapes_back(value, written):
    assert cell_escape(value) == written
    assert cell_unescape(written) == value


def test_numbers_and_none_pass_through():
    out = io.StringIO()
    csv_writer(out).writerow([-3, 2.5, None, "=A1"])
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ["-3", "2.5", "", "'=A1"]


def test_no_export_uses_the_csv_module_writers_directly():
    apps_dir = Path(settings.BASE_DIR) / "apps"
    raw = re.compile(r"\bcsv\.(writer|DictWriter)\(")
    offenders = [
        str(path.relative_to(apps_dir))
        for path in apps_dir.rglob("*.py")
        if "tests" not in path.parts and path.name != "csv_cells.py" and raw.search(path.read_text())
    ]
    assert not offenders, f"use apps.core.csv_cells.csv_writer / SafeDictWriter in {offenders}"
