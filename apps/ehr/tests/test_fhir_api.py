"""The FHIR read API over the local store: who may call it, read, and what every error looks like."""

from unittest import mock

import pytest
from django.db import OperationalError
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from apps.core.api_tokens import api_token_issue
from apps.core.models import AccessLog
from apps.core.roles import Role
from apps.ehr.fhir_api.capability import GENERIC_LISTED
from apps.ehr.models import STORE_MODELS
from tests.plugins.ehr_store import T0, observation_make, patient_make, source_make, store_make

pytestmark = pytest.mark.django_db
FHIR_JSON = "application/fhir+json"


@pytest.fixture
def integrator(make_user):
    return make_user(Role.INTEGRATION_ADMIN)


@pytest.fixture
def token(integrator):
    return api_token_issue(user=integrator, name="test", mfa_verified=True)[1]


@pytest.fixture
def fhir(client, token):
    """fhir(path, params, **headers) -> a GET with the integration admin's token."""

    def get(path, params=None, **headers):
        return client.get(path, params or {}, headers={"Authorization": f"Token {token}", **headers})

    return get


def assert_outcome(response, status, code=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == FHIR_JSON
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    issue = body["issue"][0]
    assert issue["severity"] == "error"
    if code:
        assert issue["code"] == code
    return issue


# --- who may call it -------------------------------------------------------------------


def test_anonymous_gets_401_outcome_with_a_challenge_never_a_login_redirect(client):
    patient_make("p1")
    for path in ("/fhir/metadata", "/fhir/Patient", "/fhir/Patient/p1", "/fhir/Patient/p1/_history/1"):
        response = client.get(path)
        issue = assert_outcome(response, 401, "login")
        assert response["WWW-Authenticate"].startswith("Token")
        assert "Token" in issue["diagnostics"]


def test_a_wrong_token_is_401(client):
    response = client.get("/fhir/Patient", headers={"Authorization": "Token not-a-real-token"})
    assert_outcome(response, 401)


def test_a_scheduler_is_refused_with_403_even_with_a_token(client, make_user):
    scheduler = make_user(Role.SCHEDULER)
    key = api_token_issue(user=scheduler, name="test", mfa_verified=True)[1]
    patient_make("p1")
    response = client.get("/fhir/Patient/p1", headers={"Authorization": f"Token {key}"})
    assert_outcome(response, 403, "forbidden")
    assert not AccessLog.objects.exists()


def test_bearer_header_and_session_work_too(client, integrator, token):
    patient_make("p1")
    assert client.get("/fhir/Patient/p1", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    client.force_login(integrator)
    assert client.get("/fhir/Patient/p1").status_code == 200


# --- metadata --------------------------------------------------------------------------


def test_metadata_lists_every_store_type_with_read_search_and_its_parameters(fhir):
    response = fhir("/fhir/metadata")
    assert response.status_code == 200
    assert response["Content-Type"] == FHIR_JSON
    statement = response.json()
    CapabilityStatement.model_validate(statement)
    assert (statement["fhirVersion"], statement["format"], statement["kind"]) == ("4.0.1", ["json"], "instance")
    rest = statement["rest"][0]
    assert rest["mode"] == "server"
    assert "/account/api-keys/" in rest["security"]["description"]
    resources = {r["type"]: r for r in rest["resource"]}
    # The typed types (Schedule and Slot too, issue 15), and the generic store's most sent types.
    assert set(resources) == set(STORE_MODELS) | set(GENERIC_LISTED) and len(resources) == 23
    assert "Every other R4 resource type the EHR sends is kept too" in rest["documentation"]
    for resource in resources.values():
        assert [i["code"] for i in resource["interaction"]] == ["read", "search-type"]
    params = {t: {p["name"] for p in r["searchParam"]} for t, r in resources.items()}
    assert params["Observation"] == {"_id", "_lastUpdated", "patient", "subject", "status"}
    assert params["Patient"] == {"_id", "_lastUpdated"}
    assert params["Location"] == {"_id", "_lastUpdated", "status"}
    assert params["Slot"] == {"_id", "_lastUpdated", "status"}
    assert params["Condition"] == {"_id", "_lastUpdated", "patient", "subject", "status"}
    assert statement["implementation"]["url"] == "http://testserver/fhir"


# --- read ------------------------------------------------------------------------------


def test_read_serves_the_raw_json_and_logs_the_view(fhir, integrator):
    patient_make("p1", family="Okafor", version_id="3")
    response = fhir("/fhir/Patient/p1", **{"X-Correlation-ID": "corr-1"})
    assert response.status_code == 200
    assert response["Content-Type"] == FHIR_JSON
    assert response["ETag"] == 'W/"3"'
    assert response["Last-Modified"] == "Wed, 01 Jan 2025 08:00:00 GMT"
    body = response.json()
    assert (body["resourceType"], body["id"], body["name"][0]["family"]) == ("Patient", "p1", "Okafor")
    assert body["meta"]["versionId"] == "3"
    log = AccessLog.objects.get()
    assert (log.user, log.action, log.patient, log.what) == (integrator, "view", "Patient/p1", "fhir:Patient/p1")
    assert (log.path, log.correlation_id, log.site) == ("/fhir/Patient/p1", "corr-1", None)


def test_reading_an_observation_logs_its_patient(fhir):
    observation_make("o1", "p9")
    assert fhir("/fhir/Observation/o1").json()["subject"] == {"reference": "Patient/p9"}
    assert list(AccessLog.objects.values_list("patient", "what")) == [("Patient/p9", "fhir:Observation/o1")]


def test_reading_a_resource_without_a_patient_writes_no_access_log(fhir):
    store_make("Practitioner", "dr1", body={"name": [{"family": "House"}]})
    assert fhir("/fhir/Practitioner/dr1").status_code == 200
    assert not AccessLog.objects.exists()


def test_a_deleted_resource_is_410_gone_and_not_logged(fhir):
    patient_make("gone", deleted=True)
    issue = assert_outcome(fhir("/fhir/Patient/gone"), 410, "deleted")
    assert "deleted" in issue["diagnostics"]
    assert not AccessLog.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/fhir/Patient/nobody",
        "/fhir/Observation/p1",  # a Patient's id under another type
        "/fhir/Medication/m1",  # a FHIR type of which nothing was received
        "/fhir/patient/p1",
        "/fhir/Medicine",  # not a FHIR type
        "/fhir/HumanName",  # a FHIR data type, not a resource
        "/fhir/Patient/p1/_history/1",
        "/fhir/Patient/$everything",
        "/fhir/",
    ],
)
def test_unknown_type_id_or_path_is_a_404_outcome_not_a_page(fhir, path):
    patient_make("p1")
    assert_outcome(fhir(path), 404)


def test_when_two_sources_hold_one_id_the_newest_is_read_and_searched(fhir):
    epic, cerner = source_make("epic"), source_make("cerner")
    patient_make("p1", family="Older", source=epic, last_updated=T0)
    patient_make("p1", family="Newer", source=cerner, last_updated=T0.replace(hour=9))
    assert fhir("/fhir/Patient/p1").json()["name"][0]["family"] == "Newer"
    bundle = fhir("/fhir/Patient").json()
    assert bundle["total"] == 1
    assert [e["resource"]["name"][0]["family"] for e in bundle["entry"]] == ["Newer"]

    patient_make("p2", source=epic, last_updated=T0)
    patient_make("p2", source=cerner, last_updated=T0.replace(hour=9), deleted=True)
    assert_outcome(fhir("/fhir/Patient/p2"), 410)
    assert [e["resource"]["id"] for e in fhir("/fhir/Patient").json()["entry"]] == ["p1"]


# --- formats and methods ---------------------------------------------------------------


def test_json_formats_are_accepted(fhir):
    patient_make("p1")
    assert fhir("/fhir/Patient/p1", {"_format": "json"})["Content-Type"] == FHIR_JSON
    assert fhir("/fhir/Patient/p1", {"_format": "application/fhir+json"})["Content-Type"] == FHIR_JSON
    assert fhir("/fhir/Patient/p1", Accept="application/json")["Content-Type"] == "application/json"
    assert fhir("/fhir/Patient/p1", Accept="application/fhir+json")["Content-Type"] == FHIR_JSON
    pretty = fhir("/fhir/Patient/p1", {"_pretty": "true"})
    assert pretty.content.startswith(b'{\n  "resourceType"')


def test_xml_is_not_acceptable(fhir):
    assert_outcome(fhir("/fhir/Patient", {"_format": "xml"}), 406)
    assert_outcome(fhir("/fhir/Patient", Accept="application/fhir+xml"), 406)


@pytest.mark.parametrize("method", ["post", "put", "delete", "options"])
def test_other_methods_are_405_outcomes(client, token, method):
    response = getattr(client, method)("/fhir/Patient/p1", headers={"Authorization": f"Token {token}"})
    assert_outcome(response, 405)
    assert response["Allow"] == "GET, HEAD"


def test_an_unknown_parameter_on_read_is_400(fhir):
    patient_make("p1")
    issue = assert_outcome(fhir("/fhir/Patient/p1", {"_elements": "id"}), 400)
    assert issue["expression"] == ["_elements"]


def test_a_database_outage_is_a_503_outcome_and_logs_no_identifier(fhir, caplog):
    with mock.patch("apps.ehr.fhir_api.views.store_read", side_effect=OperationalError("row p1 lost")):
        response = fhir("/fhir/Patient/p1")
    assert_outcome(response, 503, "transient")
    messages = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("apps."))
    assert "OperationalError" in messages and "p1" not in messages


def test_an_unexpected_error_is_an_outcome_not_an_html_page(fhir):
    with mock.patch("apps.ehr.fhir_api.views.capability_statement", side_effect=KeyError("boom")):
        response = fhir("/fhir/metadata")
    assert_outcome(response, 500, "exception")


def test_anonymous_learns_nothing_but_401_whatever_it_asks(client):
    for params in ({"_format": "xml"}, {"_pretty": "maybe"}, {"_elements": "id"}):
        assert_outcome(client.get("/fhir/Patient/p1", params), 401)


@pytest.mark.parametrize(
    ("path", "params"),
    [("/fhir/Patient/" + "a" * 65, {}), ("/fhir/Patient/p_1", {}), ("/fhir/Patient", {"_id": "p1," + "a" * 129})],
)
def test_an_id_that_is_not_a_fhir_id_is_400_saying_so(fhir, path, params):
    issue = assert_outcome(fhir(path, params), 400)
    assert "is not a FHIR id: 1 to 64 characters" in issue["diagnostics"]
