"""Demo set-up for ``seed_demo``: where the demo EHR's results go (the demo clinician's links and
the North Clinic pool) and the v3 ObservationInterpretation → criticality map (idempotent).
``results_demo_deliver`` sends a few results through the real inbox, for a demo feed to call
(seed_demo leaves the inbox to the demo feed, whose tests count its messages)."""

from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.core.models import Site
from apps.ehr.models import EhrSource, InboxMessage
from apps.ehr.services.inbox import inbox_process, inbox_receive
from apps.terminology.models import CodeSystem, ConceptMap, ConceptMapElement
from apps.terminology.rows import Row
from apps.terminology.services.actor import audit_actor
from apps.terminology.services.versions import version_activate, version_approve, version_create

from .interpretation import INTERPRETATION_SYSTEM
from .models import ClinicianLink, ResultSite

V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
MAP_NAME = "v3-result-interpretation"
V3_ROWS = [("N", "Normal", "normal"), ("H", "High", "abnormal"), ("L", "Low", "abnormal"),
           ("A", "Abnormal", "abnormal"), ("POS", "Positive", "abnormal"), ("HH", "Critical high", "critical"),
           ("LL", "Critical low", "critical"), ("AA", "Critical abnormal", "critical")]  # fmt: skip
DEMO_RESULTS = [  # (id, LOINC, name, value, unit, low, high, interpretation)
    ("demo-k-1", "2823-3", "Potassium", 6.9, "mmol/L", 3.5, 5.1, "HH"),
    ("demo-hba1c-1", "4548-4", "Hemoglobin A1c", 7.4, "%", 4.0, 5.6, "H"),
    ("demo-glu-1", "2345-7", "Glucose", 5.1, "mmol/L", 3.9, 6.1, "N"),
    ("demo-na-1", "2951-2", "Sodium", 139, "mmol/L", 135, 145, "N"),
]


def results_demo_seed(*, source_name: str = "demo-ehr", steward_username: str = "steward") -> str:
    """Links, the results site and the interpretation map; a line for seed_demo's output."""
    source = EhrSource.objects.filter(name=source_name).first()
    north = Site.objects.filter(code="north").first()
    if source is None or north is None:
        return "Results: no demo source or North Clinic; skipped."
    ResultSite.objects.get_or_create(source=source, defaults={"site": north})
    clinician = get_user_model().objects.filter(username="clinician").first()
    if clinician is not None:
        ClinicianLink.objects.get_or_create(source=source, practitioner_ref="Practitioner/demo-clinician",
                                            defaults={"user": clinician, "site": north})  # fmt: skip
    made_map = _interpretation_map(steward_username)
    return f"Results: clinician link and pool at {north}; interpretation map {'created' if made_map else 'kept'}."


def results_demo_deliver(*, source_name: str = "demo-ehr") -> int:
    """Deliver the demo results through the real inbox and process them now; how many were new."""
    source = EhrSource.objects.get(name=source_name)
    delivered = 0
    for body in _demo_results():
        receipt = inbox_receive(source=source, body=body, channel=InboxMessage.Channel.WEBHOOK, process=False)
        inbox_process(message_ids=receipt.new_ids)
        delivered += len(receipt.new_ids)
    return delivered


def _demo_results() -> list[dict]:
    issued = "2026-01-05T07:30:00Z"  # fixed, so a re-run delivers the same versions (ignored as unchanged)
    return [
        {"resourceType": "Observation", "id": fhir_id, "meta": {"versionId": "1", "lastUpdated": issued},
         "status": "final",
         "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                   "code": "laboratory"}]}],
         "code": {"coding": [{"system": "http://loinc.org", "code": loinc, "display": name}], "text": name},
         "subject": {"reference": f"Patient/demo-patient-{n % 2 + 1}"}, "issued": issued,
         "performer": [{"reference": "Practitioner/demo-clinician"}],
         "valueQuantity": {"value": value, "unit": unit},
         "referenceRange": [{"low": {"value": low}, "high": {"value": high}}],
         "interpretation": [{"coding": [{"system": V3, "code": code}]}]}
        for n, (fhir_id, loinc, name, value, unit, low, high, code) in enumerate(DEMO_RESULTS)
    ]  # fmt: skip


def _interpretation_map(steward_username: str) -> bool:
    steward = get_user_model().objects.filter(username=steward_username).first()
    target = CodeSystem.objects.filter(url=INTERPRETATION_SYSTEM).first()
    if steward is None or target is None or ConceptMap.objects.filter(name=MAP_NAME).exists():
        return False
    now = timezone.now()
    with audit_actor(steward):
        v3, _ = CodeSystem.objects.get_or_create(
            url=V3, defaults={"name": "v3-observation-interpretation", "title": "v3 ObservationInterpretation",
                              "kind": CodeSystem.Kind.LOCAL})  # fmt: skip
        concept_map = ConceptMap.objects.create(
            name=MAP_NAME, title="v3 interpretation → result criticality", url=ConceptMap.default_url(MAP_NAME),
            description="How urgently a result needs review (results follow-up SLAs).", source_system=v3,
            target_system=target,
        )  # fmt: skip
        rows = [Row(c, ConceptMapElement.Relationship.EQUIVALENT, t, d) for c, d, t in V3_ROWS]
        version = version_create(concept_map=concept_map, by=None, rows=rows, based_on=None, note="Demo go-live.",
                                 now=now)  # fmt: skip
        version.submit(by=None, now=now)
        version.save()
    version_approve(version_id=version.pk, by=steward, comment="Demo content loaded by seed_demo.")
    version_activate(version_id=version.pk, by=steward)
    return True
