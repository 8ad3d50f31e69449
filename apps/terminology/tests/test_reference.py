"""Canonical code sets from fixtures/ (the demo content seed_demo loads: apps/demo/tests/test_seed_demo.py)."""

import json

import pytest

from apps.terminology.models import CodeSystem, Concept, TranslationGeneration
from apps.terminology.services import terminology_reference_load
from apps.terminology.translation import translate

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
