"""ConceptMap files under hostile input: refused whole with a reason the steward can act on,
never a 500 (deep JSON, NUL characters, a CSV value over the csv module's 131,072-character
field limit); and CSV exports write formulas as text, yet import back unchanged."""

import csv
import io
import json

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.terminology.exchange import FileInvalid, csv_export
from apps.terminology.models import ConceptMapVersion
from apps.terminology.services import version_import_file
from tests.plugins.terminology import LOCAL, PRIORITY, activated, priority_map, row

pytestmark = pytest.mark.django_db
HEADER = b"source_code,relationship,target_code,comment\n"


def fhir_map(element_code: str = "S", comment: str = "") -> dict:
    target = {"code": "stat", "equivalence": "equivalent", **({"comment": comment} if comment else {})}
    return {
        "resourceType": "ConceptMap",
        "status": "draft",
        "group": [{"source": LOCAL, "target": PRIORITY, "element": [{"code": element_code, "target": [target]}]}],
    }


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("deep.json", b'{"resourceType": "ConceptMap", "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nests 50001"),
        ("nul.csv", HEADER + b"S\x00,equivalent,stat,\n", r"nul.csv holds a NUL character \(line 2\)"),
        ("nul.json", json.dumps(fhir_map("S\u0000")).encode(), r"row 1: source_code holds a NUL character"),
        ("surrogate.json", b'{"resourceType": "ConceptMap", "title": "\\ud800"}', r"lone UTF-16 surrogate .* at title"),
        ("huge.csv", HEADER + b"S,equivalent,stat," + b"x" * 131_073 + b"\n", "line 2: a value is longer than 131,072"),
    ],
)
def test_a_hostile_file_is_refused_with_a_reason(steward_a, name, content, says):
    concept_map = priority_map()
    with pytest.raises(FileInvalid, match=says):
        version_import_file(name=name, content=content, by=steward_a, map_name=concept_map.name)
    assert not ConceptMapVersion.objects.exists()


def test_the_admin_page_says_why_instead_of_a_500(client, steward_a):
    concept_map = priority_map()
    client.force_login(steward_a)
    url = reverse("admin:terminology_conceptmap_import", args=[concept_map.pk])
    upload = SimpleUploadedFile("huge.csv", HEADER + b"S,equivalent,stat," + b"x" * 200_000 + b"\n", "text/csv")
    response = client.post(url, {"file": upload})
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Nothing was imported. The CSV file cannot be read: line 2: a value is longer than 131,072 characters"
    ]


def test_the_csv_export_writes_formulas_as_text_and_imports_back_unchanged(steward_a, steward_b):
    concept_map = priority_map()
    rows = [
        row("S", "stat", source_display='=HYPERLINK("https://evil.example/","Stat")', target_display="STAT"),
        row("T", comment="-1 day, then call"),
        row("-5", "routine", source_display="'=already quoted"),
    ]
    active = activated(concept_map, rows, author=steward_a, approver=steward_b)
    text = csv_export(active)
    cells = {r["source_code"]: r for r in csv.DictReader(io.StringIO(text))}
    assert cells["S"]["source_display"] == '\'=HYPERLINK("https://evil.example/","Stat")'  # shown, never run
    assert cells["T"]["comment"] == "'-1 day, then call"
    assert cells["-5"]["source_display"] == "''=already quoted"
    assert "-5" in cells  # a number is a value, not a formula

    draft = version_import_file(name="v1.csv", content=text.encode(), by=steward_a, map_name=concept_map.name)
    exported = {(e.source_code, e.source_display, e.comment) for e in active.elements.all()}
    assert {(e.source_code, e.source_display, e.comment) for e in draft.elements.all()} == exported
