"""Canonical code sets from fixtures/, and the demo content seed_demo loads."""

import json

import pytest
from django.core.management import call_command

from apps.terminology.models import CodeSystem, Concept, ConceptMapVersion, TranslationGeneration, UnmappedCode
from apps.terminology.services import terminology_reference_load
from apps.terminology.services.reference import DEMO_MAP, DEMO_SYSTEM, REQUEST_PRIORITY
from apps.terminology.translation import translate
from apps.terminology.workflow import State, four_eyes_problem

pytestmark = pytest.mark.django_db

EXPECTED = {
    "http://hl7.org/fhir/request-priority": {"routine", "urgent", "asap", "stat"},
    "http://clinops.example.org/fhir/CodeSystem/result-interpretation": {"critical", "abnormal", "normal"},
}


def test_the_shipped_code_sets_load_and_reload_without_change():
    systems, concepts = terminology_reference_load()
    assert systems == 8 and concepts == Concept.objects.count()
    for url, codes in EXPECTED.items():
        assert set(Concept.objects.filter(system__url=url).values_list("code", flat=True)) == codes
    assert set(CodeSystem.objects.values_list("name", flat=True)) >= {
        "task-status",
        "specialty",
        "location-type",
        "appointment-type",
        "care-team-role",
        "referral-decline-reason",
    }
    generation = TranslationGeneration.objects.get().value
    assert terminology_reference_load() == (systems, concepts)
    assert TranslationGeneration.objects.get().value == generation  # nothing changed, nothing to reload


def test_a_concept_dropped_from_the_file_becomes_inactive_never_deleted(no_reference_data, tmp_path):
    data = {
        "url": "http://example.org/cs",
        "name": "demo-set",
        "title": "Demo",
        "kind": "canonical",
        "concepts": [{"code": "a", "display": "A"}, {"code": "b", "display": "B"}],
    }
    (tmp_path / "terminology_demo.json").write_text(json.dumps(data))
    terminology_reference_load(directory=tmp_path)
    data["concepts"] = [{"code": "a", "display": "Alpha"}]
    (tmp_path / "terminology_demo.json").write_text(json.dumps(data))
    terminology_reference_load(directory=tmp_path)
    assert dict(Concept.objects.values_list("code", "display")) == {"a": "Alpha", "b": "B"}
    assert not Concept.objects.get(code="b").active
    assert translate(data["url"], "b", data["url"]).mapped is False


def test_seed_demo_shows_a_governed_map_with_an_active_version_and_a_draft(settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    assert "Terminology: 8 canonical code systems" in capsys.readouterr().out
    versions = ConceptMapVersion.objects.filter(map__name=DEMO_MAP).order_by("number")
    assert [v.state for v in versions] == [State.ACTIVE, State.DRAFT]
    active, draft = versions
    assert active.approver.username == "steward" and not four_eyes_problem(active, active.approver)
    assert translate(DEMO_SYSTEM, "S", REQUEST_PRIORITY).target_code == "stat"
    assert draft.author.username == "steward" and draft.elements.filter(source_code="P").exists()
    assert UnmappedCode.objects.filter(system=DEMO_SYSTEM, resolved_at__isnull=True).count() == 2
