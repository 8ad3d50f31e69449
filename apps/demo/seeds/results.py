"""Where the demo EHR's results go (the demo clinician's link and the North Clinic pool) and the
v3 ObservationInterpretation → criticality map (governed: four eyes). ``demo_results_deliver``
sends a few results through the real inbox (seed_demo leaves the inbox to the demo feed)."""

from django.contrib.auth import get_user_model
from django.db import transaction

from apps.core.models import Site
from apps.ehr.models import EhrSource, InboxMessage
from apps.ehr.services.inbox import inbox_process, inbox_receive
from apps.results.interpretation import INTERPRETATION_SYSTEM
from apps.results.models import ClinicianLink, ResultSite
from apps.terminology.models import CodeSystem, ConceptMap, ConceptMapElement
from apps.terminology.rows import Row
from apps.terminology.services import code_system_create

from .maps import map_seed_active, stewards

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


def demo_results_seed(*, source_name: str = "demo-ehr") -> str:
    """Links, the results site and the interpretation map; a line for seed_demo's output."""
    source = EhrSource.objects.filter(name=source_name).first()
    north = Site.objects.filter(code="north").first()
    if source is None or north is None:
        return "Results: no demo source or North Clinic; skipped."
    with transaction.atomic():
        # Results configuration, which has no service of its own: the admin edits these rows.
        ResultSite.objects.get_or_create(source=source, defaults={"site": north})
        clinician = get_user_model().objects.filter(username="clinician").first()
        if clinician is not None:
            ClinicianLink.objects.get_or_create(source=source, practitioner_ref="Practitioner/demo-clinician",
                                                defaults={"user": clinician, "site": north})  # fmt: skip
    made_map = _interpretation_map()
    return f"Results: clinician link and pool at {north}; interpretation map {'created' if made_map else 'kept'}."


def demo_results_deliver(*, source_name: str = "demo-ehr") -> int:
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


def _interpretation_map() -> bool:
    people = stewards()
    if (
        people is None
        or not CodeSystem.objects.filter(url=INTERPRETATION_SYSTEM).exists()
        or ConceptMap.objects.filter(name=MAP_NAME).exists()
    ):
        return False
    author, approver = people
    with transaction.atomic():
        if not CodeSystem.objects.filter(url=V3).exists():
            code_system_create(
                url=V3, name="v3-observation-interpretation", title="v3 ObservationInterpretation", by=author
            )
        map_seed_active(
            name=MAP_NAME,
            title="v3 interpretation → result criticality",
            description="How urgently a result needs review (results follow-up SLAs).",
            source_system_url=V3,
            target_system_url=INTERPRETATION_SYSTEM,
            rows=[Row(c, ConceptMapElement.Relationship.EQUIVALENT, t, d) for c, d, t in V3_ROWS],
            note="Demo go-live.",
            author=author,
            approver=approver,
        )
    return True
