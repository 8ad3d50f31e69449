"""A standard FHIR client (fhirpy) against the read API on a live server, with a DRF token."""

from datetime import timedelta

import pytest
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ForbiddenError, ResourceNotFound

from apps.core.api_tokens import api_token_issue
from apps.core.models import AccessLog
from apps.core.roles import Role
from tests.plugins.core import UserFactory
from tests.plugins.ehr_store import T0, observation_make, patient_make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client_for(live_server):
    def make(role):
        key = api_token_issue(user=UserFactory(role=role), name="test", mfa_verified=True)[1]
        return SyncFHIRClient(f"{live_server.url}/fhir", authorization=f"Token {key}")

    return make


def test_fhirpy_reads_a_patient_and_pages_through_their_observations(client_for):
    patient_make("p1", family="Okafor")
    for n in range(5):
        observation_make(f"o{n}", "p1", last_updated=T0 + timedelta(minutes=n))
    observation_make("other", "p2")
    fhir = client_for(Role.INTEGRATION_ADMIN)

    patient = fhir.reference("Patient", "p1").to_resource()
    assert (patient.resourceType, patient.id, patient["name"][0]["family"]) == ("Patient", "p1", "Okafor")

    search = fhir.resources("Observation").search(patient="Patient/p1").limit(2)
    assert [o.id for o in search.fetch()] == ["o0", "o1"]  # one page
    everything = search.fetch_all()  # follows Bundle.link next to the end
    assert [o.id for o in everything] == ["o0", "o1", "o2", "o3", "o4"]
    assert all(o["subject"]["reference"] == "Patient/p1" for o in everything)

    logged = list(AccessLog.objects.order_by().values_list("action", "patient").distinct())
    assert sorted(logged) == [("search", "Patient/p1"), ("view", "Patient/p1")]
    assert AccessLog.objects.filter(action="search").count() == 2 + 5


def test_fhirpy_sees_gone_and_refused_as_errors(client_for):
    patient_make("gone", deleted=True)
    with pytest.raises(ResourceNotFound):
        client_for(Role.INTEGRATION_ADMIN).reference("Patient", "gone").to_resource()
    with pytest.raises(ForbiddenError, match=r"ehr\.read_fhir_api"):
        client_for(Role.SCHEDULER).resources("Patient").fetch()
