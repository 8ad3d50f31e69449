"""Test helpers: push result traffic (the official HL7 examples, or made-up ones) through the
real ingestion path, with an active interpretation map and clinician links."""

import json
from pathlib import Path
from typing import Any

from apps.ehr.services.sources import source_upsert
from apps.results.interpretation import INTERPRETATION_SYSTEM
from apps.results.models import ClinicianLink, ResultSite
from tests.plugins.core import SiteFactory
from tests.plugins.ehr_messages import feed  # noqa: F401 - the same delivery path, re-exported

HL7 = Path(__file__).resolve().parents[2] / "ehr" / "tests" / "fixtures" / "hl7"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
INTERPRETATION_ROWS = (
    ("H", "abnormal"), ("L", "abnormal"), ("A", "abnormal"), ("POS", "abnormal"),
    ("HH", "critical"), ("LL", "critical"), ("AA", "critical"), ("N", "normal"),
)  # fmt: skip


def hl7(name: str) -> dict[str, Any]:
    """One of the official HL7 R4 examples kept under apps/ehr/tests/fixtures/hl7."""
    return json.loads((HL7 / f"{name}.json").read_text())


def interpretation_map(rows=INTERPRETATION_ROWS, *, hooks=None):
    """An active map from v3 ObservationInterpretation to the canonical result interpretation."""
    from tests.plugins.terminology import concept_map_active

    return concept_map_active("v3-result-interpretation", source_url=V3, target_url=INTERPRETATION_SYSTEM, rows=rows,
                      title="v3 interpretation to result criticality", hooks=hooks)  # fmt: skip


def make_source(site=None, name="ehr-lab", *, mapped=True):
    """A source whose unassigned results go to ``site``; with ``mapped``, v3 interpretations map."""
    site = site or SiteFactory(code="north", name="North Clinic")
    source, token = source_upsert(name=name, base_url="http://127.0.0.1:9/fhir")
    ResultSite.objects.get_or_create(source=source, defaults={"site": site})
    if mapped:
        interpretation_map()
    source.token = token
    return source, site


def link(source, practitioner_ref: str, user, site) -> ClinicianLink:
    return ClinicianLink.objects.create(source=source, practitioner_ref=practitioner_ref, user=user, site=site)


def observation(obs_id="o1", *, version="1", status="final", code="2345-7", value=5.5, interpretation="N",
                patient="p1", performer="Practitioner/dr-a", based_on=None, **extra) -> dict:  # fmt: skip
    """A lab Observation (LOINC glucose by default) with a value, a reference range and an interpretation."""
    body = {
        "resourceType": "Observation",
        "id": obs_id,
        "meta": {"versionId": version, "lastUpdated": f"2026-03-0{min(int(version), 9)}T10:00:00Z"},
        "status": status,
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": "Glucose"}], "text": "Glucose"},
        "subject": {"reference": f"Patient/{patient}"},
        "issued": f"2026-03-0{min(int(version), 9)}T09:00:00Z",
        "valueQuantity": {"value": value, "unit": "mmol/L"},
        "referenceRange": [{"low": {"value": 3.9}, "high": {"value": 6.1}}],
        **extra,
    }  # fmt: skip
    if interpretation:
        body["interpretation"] = [{"coding": [{"system": V3, "code": interpretation}]}]
    if performer:
        body["performer"] = [{"reference": performer}]
    if based_on:
        body["basedOn"] = [{"reference": based_on}]
    return body


def report(dr_id="r1", *, version="1", status="final", results=("o1",), patient="p1", based_on=None,
           performer="Practitioner/dr-a", conclusion="") -> dict:  # fmt: skip
    body = {
        "resourceType": "DiagnosticReport",
        "id": dr_id,
        "meta": {"versionId": version, "lastUpdated": f"2026-03-0{min(int(version), 9)}T11:00:00Z"},
        "status": status,
        "code": {"coding": [{"system": "http://loinc.org", "code": "24323-8", "display": "Metabolic panel"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "issued": f"2026-03-0{min(int(version), 9)}T10:30:00Z",
        "result": [{"reference": f"Observation/{r}"} for r in results],
    }
    if performer:
        body["performer"] = [{"reference": performer}]
    if based_on:
        body["basedOn"] = [{"reference": based_on}]
    if conclusion:
        body["conclusion"] = conclusion
    return body
