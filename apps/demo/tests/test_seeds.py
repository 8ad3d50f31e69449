"""The per-app demo seeds (apps/demo/seeds), each on its own: moved here from the results and
intake tests with the seeds they check."""

import pytest

from apps.core.models import Site
from apps.core.roles import Role
from apps.demo.seeds.intake import demo_intake_seed
from apps.demo.seeds.results import demo_results_deliver, demo_results_seed
from apps.ehr.services.sources import source_upsert
from apps.intake.models import Intake
from apps.results.models import ResultItem
from apps.terminology.services import terminology_reference_load
from apps.workflow.services import sla_policies_load
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.intake_feed import appointment, feed


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_demo_seed_links_the_demo_clinician_and_its_results_arrive_classified(make_user, own_site):
    terminology_reference_load()
    sla_policies_load()
    Site.objects.create(code="north", name="North Clinic", timezone="America/New_York")
    source_upsert(name="demo-ehr")
    clinician = UserFactory(username="clinician", role=Role.CLINICIAN)
    UserFactory(username="steward", role=Role.TERMINOLOGY_STEWARD)
    UserFactory(username="steward2", role=Role.TERMINOLOGY_STEWARD)  # the map's author: four eyes
    assert "map created" in demo_results_seed()
    assert demo_results_deliver() == 4 and demo_results_deliver() == 0
    by_id = dict(ResultItem.objects.values_list("resource_id", "criticality"))
    assert by_id == {"demo-k-1": "critical", "demo-hba1c-1": "abnormal", "demo-glu-1": "normal", "demo-na-1": "normal"}
    assert set(ResultItem.objects.values_list("assignee", flat=True)) == {clinician.pk}


def test_the_demo_seed_switches_intake_on_where_the_simulated_feed_books(capture, db):
    south = SiteFactory(code="south", name="South Hospital", timezone="America/Chicago")
    SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    source, _ = source_upsert(name="demo-ehr")
    assert "switched on at 2 sites (2 new)" in demo_intake_seed()
    assert "(0 new)" in demo_intake_seed()
    feed(source, appointment(location="Location/loc-south", kind=None), capture=capture)
    intake = Intake.objects.get()
    assert intake.site == south and intake.appointment_type == "ROUTINE" and intake.checks.count() == 5


def test_the_demo_maps_wait_for_both_stewards(db):
    terminology_reference_load()
    Site.objects.create(code="north", name="North Clinic", timezone="America/New_York")
    source_upsert(name="demo-ehr")
    UserFactory(username="steward", role=Role.TERMINOLOGY_STEWARD)
    assert "interpretation map kept" in demo_results_seed()  # no second steward yet: nothing half-made
    UserFactory(username="steward2", role=Role.TERMINOLOGY_STEWARD)
    assert "interpretation map created" in demo_results_seed()
    assert "interpretation map kept" in demo_results_seed()
