"""Result items created and advanced by the EHR, through the real ingestion path, with the
official HL7 R4 example Observations and DiagnosticReports."""

import pytest

from apps.core.roles import Role
from apps.ehr.models import InboxMessage
from apps.results.models import ResultItem
from apps.results.workflow import State
from apps.terminology.models import UnmappedCode
from apps.workflow.models import Transition
from tests.plugins.core import UserFactory

from .ehr_feed import feed, hl7, link, make_source, observation, report

pytestmark = pytest.mark.django_db


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def setup(db):
    source, site = make_source()
    return source, site


def clinician(site, name="drlee"):
    return UserFactory(username=name, first_name="Dana", last_name=name.title(), role=Role.CLINICIAN, sites=[site])


def test_hl7_glucose_observation_goes_to_its_performer_as_abnormal(setup, capture):
    source, site = setup
    dr = clinician(site)
    link(source, "Practitioner/f005", dr, site)
    [message] = feed(source, hl7("Observation-f001"), capture=capture)
    assert message.status == InboxMessage.Status.PROCESSED, message.last_error
    item = ResultItem.objects.get()
    assert (item.state, item.queue, item.criticality, item.priority) == (State.NEW, "review", "abnormal", "urgent")
    assert (item.ordering_clinician, item.assignee, item.ordering_ref) == (dr, dr, "Practitioner/f005")
    assert item.values[0]["value"] == 6.3 and item.values[0]["low"] == 3.1 and item.values[0]["high"] == 6.2
    assert "performer" in Transition.objects.get(workflow="result").reason


def test_the_requester_of_the_based_on_service_request_wins_over_the_performer(setup, capture):
    source, site = setup
    orderer, lab = clinician(site, "orderer"), clinician(site, "labdoc")
    link(source, "Practitioner/dr-order", orderer, site)
    link(source, "Practitioner/dr-a", lab, site)
    sr = {"resourceType": "ServiceRequest", "id": "sr9", "status": "active", "intent": "order",
          "subject": {"reference": "Patient/p1"}, "requester": {"reference": "Practitioner/dr-order"},
          "code": {"text": "Glucose"}}  # fmt: skip
    feed(source, sr, observation(based_on="ServiceRequest/sr9"), capture=capture)
    item = ResultItem.objects.get()
    assert item.ordering_clinician == orderer and item.ordering_ref == "Practitioner/dr-order"


def test_hl7_report_with_an_organization_performer_goes_to_the_unassigned_pool_flagged(setup, capture):
    source, site = setup
    [message] = feed(source, hl7("DiagnosticReport-f201"), capture=capture)
    assert message.status == InboxMessage.Status.PROCESSED, message.last_error
    item = ResultItem.objects.get()
    assert item.assignee is None and item.ordering_clinician is None and item.site == site
    assert "names no ordering clinician" in item.unassigned_reason
    assert item.criticality == "abnormal" and "No interpretation" in item.criticality_note


def test_hl7_pathology_report_by_an_unlinked_practitioner_is_flagged_with_who(setup, capture):
    source, _ = setup
    feed(source, hl7("DiagnosticReport-pap"), capture=capture)
    item = ResultItem.objects.get()
    assert item.assignee is None and "Practitioner/example" in item.unassigned_reason


def test_hl7_entered_in_error_observation_makes_no_item_and_voids_an_existing_one(setup, capture):
    source, _ = setup
    feed(source, hl7("Observation-f202"), capture=capture)
    assert not ResultItem.objects.exists()
    feed(source, observation("o1"), capture=capture)
    feed(source, observation("o1", version="2", status="entered-in-error", note=[{"text": "wrong patient"}]),
         capture=capture)  # fmt: skip
    item = ResultItem.objects.get()
    assert item.state == State.VOIDED and not item.is_open and "wrong patient" in item.void_reason


def test_preliminary_results_and_vital_signs_make_no_item(setup, capture):
    source, _ = setup
    feed(source, observation(status="preliminary"), hl7("Observation-blood-pressure"), capture=capture)
    assert not ResultItem.objects.exists()


def test_a_report_collects_its_observations_and_takes_the_worst_criticality(setup, capture):
    source, _ = setup
    feed(source, observation("o1", interpretation="N"), observation("o2", interpretation="HH", value=30),
         capture=capture)  # fmt: skip
    assert ResultItem.objects.filter(resource_type="Observation").count() == 2
    feed(source, report(results=("o1", "o2")), capture=capture)
    item = ResultItem.objects.get(resource_type="DiagnosticReport")
    assert (item.criticality, item.priority, len(item.values)) == ("critical", "stat", 2)
    # The observations that came first are folded into the report.
    assert set(ResultItem.objects.filter(resource_type="Observation").values_list("state", flat=True)) == {"voided"}
    # An observation of the report arriving later refreshes the report, not a new item.
    feed(source, observation("o3", interpretation="L"), report(version="2", results=("o1", "o2", "o3")),
         capture=capture)  # fmt: skip
    assert ResultItem.objects.filter(is_open=True).count() == 1


def test_an_unmapped_interpretation_code_goes_to_the_exceptions_and_unmapped_queues(setup, capture):
    source, _ = setup
    feed(source, hl7("Observation-f203"), capture=capture)  # SNOMED 166698001 + v3 N: N maps
    assert ResultItem.objects.get().criticality == "normal"
    feed(source, observation("o9", interpretation="W"), capture=capture)  # v3 "worse": not in the map
    item = ResultItem.objects.get(resource_id="o9")
    assert (item.queue, item.criticality) == ("exceptions", "abnormal") and "W" in item.exception_reason
    assert UnmappedCode.objects.filter(code="W").exists()


def test_a_source_not_set_up_for_results_is_left_alone(capture):
    from apps.ehr.services.sources import source_upsert

    source, _ = source_upsert(name="ehr-referrals-only", base_url="http://127.0.0.1:9/fhir")
    [message] = feed(source, observation(), capture=capture)
    assert message.status == InboxMessage.Status.PROCESSED and not ResultItem.objects.exists()


def test_a_source_with_clinician_links_but_no_results_site_fails_an_unassignable_result_visibly(capture):
    from apps.ehr.services.sources import source_upsert
    from tests.plugins.core import SiteFactory

    source, _ = source_upsert(name="ehr-half-set-up", base_url="http://127.0.0.1:9/fhir")
    site = SiteFactory(code="south")
    link(source, "Practitioner/known", clinician(site), site)
    [message] = feed(source, observation(performer="Practitioner/unknown"), capture=capture)
    assert message.status != InboxMessage.Status.PROCESSED and "No results site" in message.last_error
    assert not ResultItem.objects.exists()
