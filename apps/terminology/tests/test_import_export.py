"""Import and export of a version: CSV and FHIR R4 ConceptMap, the official HL7 examples included."""

import json
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from fhir.resources.R4B.conceptmap import ConceptMap as FhirConceptMap

from apps.core.errors import ConflictError
from apps.terminology.exchange import FileInvalid, csv_export, fhir_export
from apps.terminology.models import CodeSystem, ConceptMapComment, ConceptMapVersion
from apps.terminology.services import version_import_file
from apps.terminology.workflow import State
from tests.plugins.terminology import (
    LOCAL,
    CodeSystemFactory,
    ConceptFactory,
    ConceptMapFactory,
    activated,
    draft_with,
    priority_map,
    row,
)

pytestmark = pytest.mark.django_db
HL7 = Path(__file__).parent / "fixtures" / "hl7"

# The R4 codes the examples map to (from the published code systems), registered as canonical here.
RESOURCE_STATUS = [
    "error",
    "proposed",
    "planned",
    "draft",
    "requested",
    "received",
    "declined",
    "accepted",
    "arrived",
    "active",
    "suspended",
    "failed",
    "replaced",
    "complete",
    "abandoned",
    "unknown",
    "on-target",
    "ahead-of-target",
    "behind-target",
    "not-ready",
    "transduc-discon",
    "hw-discon",
]
V2_0001 = ["A", "F", "M", "N", "O", "U"]
V3_ADDRESS_USE = [
    "BAD",
    "CONF",
    "DIR",
    "H",
    "HP",
    "HV",
    "OLD",
    "PHYS",
    "PST",
    "PUB",
    "TMP",
    "WP",
    "MC",
    "PG",
    "AS",
    "EC",
]


def official_map(name: str, source: str, target: str, codes: list[str]):
    target_system = CodeSystemFactory(url=target, name=f"{name}-target", kind=CodeSystem.Kind.CANONICAL)
    for code in codes:
        ConceptFactory(system=target_system, code=code)
    return ConceptMapFactory(
        name=name, source_system=CodeSystemFactory(url=source, name=f"{name}-source"), target_system=target_system
    )


def rows_of(version):
    return [(e.source_code, e.relationship, e.target_code, e.comment) for e in version.elements.order_by("pk")]


def test_the_official_task_status_map_imports_as_a_draft(capsys):
    concept_map = official_map(
        "task-status", "http://hl7.org/fhir/task-status", "http://hl7.org/fhir/resource-status", RESOURCE_STATUS
    )
    call_command("conceptmap_import", str(HL7 / "ConceptMap-sc-task-status.json"))
    version = ConceptMapVersion.objects.get(map=concept_map)
    assert f"Imported 12 rows from ConceptMap-sc-task-status.json as draft {version}" in capsys.readouterr().out
    assert (version.state, version.author, version.number) == (State.DRAFT, None, 1)
    assert version.elements.count() == 12
    assert set(version.elements.values_list("relationship", flat=True)) == {"equivalent"}
    assert ("in-progress", "equivalent", "active", "") in rows_of(version)
    assert version.comments.get().action == ConceptMapComment.Action.IMPORT


def test_the_official_gender_map_reads_equal_as_equivalent_and_keeps_two_targets():
    concept_map = official_map(
        "gender", "http://hl7.org/fhir/administrative-gender", "http://terminology.hl7.org/CodeSystem/v2-0001", V2_0001
    )
    content = (HL7 / "ConceptMap-cm-administrative-gender-v2.json").read_bytes()
    version = version_import_file(name="gender.json", content=content, by=None)
    assert version.map == concept_map
    assert sorted(rows_of(version)) == [
        ("female", "equivalent", "F", ""),
        ("male", "equivalent", "M", ""),
        ("other", "wider", "A", ""),
        ("other", "wider", "O", ""),
        ("unknown", "equivalent", "U", ""),
    ]


def test_the_official_contact_point_map_keeps_the_comments_narrower_needs(steward_a):
    official_map(
        "contact-use",
        "http://hl7.org/fhir/contact-point-use",
        "http://terminology.hl7.org/CodeSystem/v3-AddressUse",
        V3_ADDRESS_USE,
    )
    content = (HL7 / "ConceptMap-cm-contact-point-use-v3.json").read_bytes()
    version = version_import_file(name="contact.json", content=content, by=steward_a)
    assert version.author == steward_a
    assert ("old", "narrower", "OLD", "Old and Bad") in rows_of(version)


@pytest.mark.parametrize(
    ("name", "source", "target", "problems"),
    [
        (
            "ConceptMap-101.json",
            "http://hl7.org/fhir/address-use",
            "http://terminology.hl7.org/CodeSystem/v3-AddressUse",
            [
                "group.unmapped (mode fixed) is not supported",
                "(old): equivalence 'disjoint' says the codes are not related",
            ],
        ),
        (
            "ConceptMap-example2.json",
            "http://example.org/fhir/example1",
            "http://example.org/fhir/example2",
            ["group.unmapped (mode other-map)", "(code): dependsOn/product (a conditional mapping) is not supported"],
        ),
        (
            "ConceptMap-103.json",
            "http://snomed.info/sct",
            "http://hl7.org/fhir/sid/icd-10-us",
            ["group.element[1]: has no code"],
        ),
    ],
)
def test_official_examples_clinops_cannot_route_on_are_refused_whole(name, source, target, problems):
    official_map("refused", source, target, ["BAD", "H", "WP", "TMP", "code2", "S52.209A", "S52.209D"])
    with pytest.raises(CommandError) as caught:
        call_command("conceptmap_import", str(HL7 / name))
    message = str(caught.value)
    assert message.startswith(f"Nothing was imported from {name}")
    for problem in problems:
        assert problem in message
    assert not ConceptMapVersion.objects.exists()


def test_a_file_for_no_known_map_says_what_to_do():
    with pytest.raises(CommandError, match="create the map in the admin first, or name one"):
        call_command("conceptmap_import", str(HL7 / "ConceptMap-sc-task-status.json"))


def test_a_file_for_another_map_is_refused():
    priority_map()
    with pytest.raises(
        CommandError, match=re.escape("The file maps http://hl7.org/fhir/task-status, but map 'ehr-priority'")
    ):
        call_command("conceptmap_import", str(HL7 / "ConceptMap-sc-task-status.json"), "--map", "ehr-priority")


# --- CSV ----------------------------------------------------------------------------------------


def test_a_csv_file_imports_with_the_map_named(tmp_path, steward_a):
    concept_map = priority_map()
    path = tmp_path / "priority.csv"
    path.write_text(
        "source_code,source_display,relationship,target_code,target_display,comment\n"
        "S,Stat,equivalent,stat,STAT,\n"
        "T,Timing critical,not-mapped,,,Ask the lab\n"
        "P,Pre-op,wider,urgent,Urgent,\n"
        ",,,,,\n"
    )
    call_command("conceptmap_import", str(path), "--map", concept_map.name, "--by", steward_a.username)
    version = ConceptMapVersion.objects.get()
    assert version.author == steward_a
    assert rows_of(version) == [
        ("S", "equivalent", "stat", ""),
        ("T", "not-mapped", "", "Ask the lab"),
        ("P", "wider", "urgent", ""),
    ]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "The CSV file is empty"),
        ("code,target\nS,stat\n", "The CSV header lacks relationship, source_code"),
        ("source_code,relationship,target,target_code\n", "unknown columns target"),
        ("source_code,relationship,target_code\nS,same-as,stat\n", "line 2: relationship 'same-as' is not one of"),
        ("source_code,relationship,target_code\nS,equivalent,soon\n", r"row 1 \(S\): 'soon' is not an active code"),
        ("source_code,relationship,target_code\nS,equivalent,stat,extra\n", "line 2: more values than columns"),
        ("source_code,relationship,target_code\nN,narrower,stat\n", "a narrower mapping needs a comment"),
    ],
)
def test_bad_csv_files_are_refused_with_a_reason(tmp_path, text, says):
    concept_map = priority_map()
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(CommandError, match=says):
        call_command("conceptmap_import", str(path), "--map", concept_map.name)
    assert not ConceptMapVersion.objects.exists()


def test_a_csv_file_needs_the_map_and_other_files_need_to_be_text(tmp_path):
    priority_map()
    (tmp_path / "a.csv").write_text("source_code,relationship,target_code\nS,equivalent,stat\n")
    with pytest.raises(CommandError, match="A CSV file does not say which map it belongs to"):
        call_command("conceptmap_import", str(tmp_path / "a.csv"))
    (tmp_path / "b.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(CommandError, match=r"b\.json is not UTF-8 text"):
        call_command("conceptmap_import", str(tmp_path / "b.json"), "--map", "ehr-priority")
    (tmp_path / "c.json").write_text("{")
    with pytest.raises(CommandError, match=r"c\.json is not FHIR JSON"):
        call_command("conceptmap_import", str(tmp_path / "c.json"), "--map", "ehr-priority")
    with pytest.raises(CommandError, match="is not a file"):
        call_command("conceptmap_import", str(tmp_path / "missing.csv"))


def test_an_import_does_not_replace_a_change_in_progress(steward_a):
    concept_map = priority_map()
    draft_with(concept_map, [row("S", "stat")], by=steward_a)
    with pytest.raises(ConflictError, match="is already open"):
        version_import_file(
            name="x.csv",
            content=b"source_code,relationship,target_code\nR,equivalent,routine\n",
            by=steward_a,
            map_name=concept_map.name,
        )
    assert ConceptMapVersion.objects.count() == 1


# --- export, and back -----------------------------------------------------------------------------

ROWS = [
    row("S", "stat", source_display="Stat", target_display="STAT"),
    row("T", comment="Ask the lab"),
    row("N", "urgent", "narrower", comment="Urgent pre-op only"),
]


def test_fhir_export_is_a_valid_r4_concept_map_that_imports_back_unchanged(steward_a, steward_b):
    concept_map = priority_map()
    active = activated(concept_map, ROWS, author=steward_a, approver=steward_b)
    resource = fhir_export(active)
    FhirConceptMap.model_validate(resource)
    assert (resource["url"], resource["version"], resource["status"], resource["name"]) == (
        concept_map.url,
        "1",
        "active",
        "EhrPriority",
    )
    group = resource["group"][0]
    assert (group["source"], group["target"]) == (LOCAL, concept_map.target_system.url)
    targets = {e["code"]: e["target"] for e in group["element"]}
    assert targets["T"] == [{"equivalence": "unmatched", "comment": "Ask the lab"}]
    assert targets["S"] == [{"equivalence": "equivalent", "code": "stat", "display": "STAT"}]
    draft = version_import_file(name="v1.json", content=json.dumps(resource).encode(), by=steward_a)
    assert sorted(rows_of(draft)) == sorted(rows_of(active))


def test_csv_export_imports_back_unchanged(steward_a, steward_b):
    concept_map = priority_map()
    active = activated(concept_map, ROWS, author=steward_a, approver=steward_b)
    text = csv_export(active)
    assert text.splitlines()[0] == "source_code,source_display,relationship,target_code,target_display,comment"
    draft = version_import_file(name="v1.csv", content=text.encode(), by=steward_a, map_name=concept_map.name)
    assert sorted(rows_of(draft)) == sorted(rows_of(active))


def test_a_draft_exports_as_a_draft_and_an_empty_one_has_no_group(steward_a):
    concept_map = priority_map()
    draft = draft_with(concept_map, [], by=steward_a)
    resource = fhir_export(draft)
    assert resource["status"] == "draft" and "group" not in resource
    with pytest.raises(FileInvalid, match="no group, so no rows"):
        version_import_file(
            name="empty.json", content=json.dumps(resource).encode(), by=steward_a, map_name=concept_map.name
        )
