"""Searching the FHIR read API: parameters, paging, totals, strict handling and access logs."""

from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fhir.resources.R4B.bundle import Bundle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.api_tokens import api_token_issue
from apps.core.models import AccessLog
from apps.core.roles import Role
from tests.plugins.ehr_store import T0, observation_make, patient_make, store_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def fhir(client, make_user):
    """fhir(path, params, **headers) -> a GET with an integration admin's token."""
    key = api_token_issue(user=make_user(Role.INTEGRATION_ADMIN), name="test", mfa_verified=True)[1]

    def get(path, params=None, **headers):
        return client.get(path, params or {}, headers={"Authorization": f"Token {key}", **headers})

    return get


def ids(response):
    assert response.status_code == 200, response.content
    return [entry["resource"]["id"] for entry in response.json().get("entry", [])]


def links(bundle):
    return {link["relation"]: link["url"] for link in bundle["link"]}


def hours(n):
    return T0 + timedelta(hours=n)


@pytest.fixture
def results():
    """Observations o1..o5 (an hour apart) for p1 and p2; o4 is preliminary, o5 was deleted."""
    observation_make("o1", "p1", last_updated=hours(1))
    observation_make("o2", "p1", last_updated=hours(2))
    observation_make("o3", "p2", last_updated=hours(3))
    observation_make("o4", "p1", last_updated=hours(4), status="preliminary")
    observation_make("o5", "p1", last_updated=hours(5), deleted=True)


def test_a_search_is_a_searchset_bundle_in_last_updated_order(fhir, results):
    response = fhir("/fhir/Observation")
    assert response["Content-Type"] == "application/fhir+json"
    bundle = response.json()
    Bundle.model_validate(bundle)
    assert (bundle["type"], bundle["total"]) == ("searchset", 4)
    assert ids(response) == ["o1", "o2", "o3", "o4"]  # o5 is deleted
    entry = bundle["entry"][0]
    assert entry["fullUrl"] == "http://testserver/fhir/Observation/o1"
    assert entry["search"] == {"mode": "match"}
    assert links(bundle)["self"] == "http://testserver/fhir/Observation?_count=50"
    assert "next" not in links(bundle)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"_id": "o2"}, ["o2"]),
        ({"_id": "o3,o1,o5"}, ["o1", "o3"]),
        ({"patient": "Patient/p1"}, ["o1", "o2", "o4"]),
        ({"patient": "p2"}, ["o3"]),
        ({"subject": "Patient/p1"}, ["o1", "o2", "o4"]),
        ({"subject": "p2,p1"}, ["o1", "o2", "o3", "o4"]),
        ({"status": "final"}, ["o1", "o2", "o3"]),
        ({"status": "preliminary,amended"}, ["o4"]),
        ({"patient": "p1", "status": "final"}, ["o1", "o2"]),
        ({"_lastUpdated": "gt2025-01-01T10:00:00Z"}, ["o3", "o4"]),
        ({"_lastUpdated": "ge2025-01-01T10:00:00Z"}, ["o2", "o3", "o4"]),
        ({"_lastUpdated": "lt2025-01-01T10:00:00Z"}, ["o1"]),
        ({"_lastUpdated": "le2025-01-01T10:00:00Z"}, ["o1", "o2"]),
        ({"_lastUpdated": "eq2025-01-01T10:00:00Z"}, ["o2"]),
        ({"_lastUpdated": "2025-01-01T05:00:00-05:00"}, ["o2"]),
        ({"_lastUpdated": ["ge2025-01-01T10:00:00Z", "lt2025-01-01T12:00:00Z"]}, ["o2", "o3"]),
        ({"_lastUpdated": "2025-01"}, ["o1", "o2", "o3", "o4"]),
        ({"_lastUpdated": "gt2025-01-01"}, []),
        ({"_lastUpdated": "2024"}, []),
    ],
)
def test_each_search_parameter_filters(fhir, results, params, expected):
    assert ids(fhir("/fhir/Observation", params)) == expected


def test_search_leaves_out_other_types_and_patient_searches_log_each_resource(fhir, results):
    patient_make("p1")
    assert ids(fhir("/fhir/Patient")) == ["p1"]
    assert AccessLog.objects.get(what="fhir:Patient/p1").action == "search"
    fhir("/fhir/Observation", {"patient": "p1"})
    logged = sorted(AccessLog.objects.filter(what__startswith="fhir:Obs").values_list("action", "patient", "what"))
    assert logged == [("search", "Patient/p1", f"fhir:Observation/{i}") for i in ("o1", "o2", "o4")]


def test_searching_resources_without_a_patient_logs_nothing(fhir):
    store_make("Organization", "org1", body={"name": "North"})
    assert ids(fhir("/fhir/Organization")) == ["org1"]
    assert not AccessLog.objects.exists()


def test_ties_on_last_updated_are_ordered_by_row(fhir):
    for name in ("b", "a", "c"):
        patient_make(name, last_updated=T0)
    assert ids(fhir("/fhir/Patient")) == ["b", "a", "c"]


def test_following_next_links_reaches_every_resource_once_then_stops(fhir):
    for n in range(7):
        patient_make(f"p{n}", last_updated=hours(n % 3))  # ties across page boundaries
    expected = ids(fhir("/fhir/Patient"))
    seen, url, pages = [], "/fhir/Patient?_count=3", 0
    while url:
        response = fhir(url)
        bundle = response.json()
        assert bundle["total"] == 7
        seen += ids(response)
        url = links(bundle).get("next")
        pages += 1
    assert (seen, pages) == (expected, 3)


def test_previous_and_first_links_go_back(fhir):
    for n in range(5):
        patient_make(f"p{n}", last_updated=hours(n))
    first = fhir("/fhir/Patient", {"_count": 2}).json()
    assert "previous" not in links(first)
    second = fhir(links(first)["next"]).json()
    assert [e["resource"]["id"] for e in second["entry"]] == ["p2", "p3"]
    back = fhir(links(second)["previous"])
    assert ids(back) == ["p0", "p1"]
    assert "previous" not in links(back.json()) and "next" in links(back.json())
    assert ids(fhir(links(second)["first"])) == ["p0", "p1"]
    assert ids(fhir(links(second)["self"])) == ["p2", "p3"]


def test_a_resource_updated_while_paging_moves_to_the_end_and_nothing_is_skipped(fhir):
    rows = [patient_make(f"p{n}", last_updated=hours(n)) for n in range(4)]
    first = fhir("/fhir/Patient", {"_count": 2}).json()
    rows[0].last_updated = hours(10)  # p0 is updated by the EHR after the client saw page one
    rows[0].save(update_fields=["last_updated"])
    rest = ids(fhir(links(first)["next"]))
    assert rest == ["p2", "p3"]


def test_links_keep_the_search_parameters(fhir, results):
    bundle = fhir("/fhir/Observation", {"patient": "p1", "_count": 1}).json()
    query = parse_qs(urlsplit(links(bundle)["next"]).query)
    assert query["patient"] == ["p1"] and query["_count"] == ["1"] and "_after" in query
    assert ids(fhir(links(bundle)["next"])) == ["o2"]


def test_count_defaults_to_50_and_is_capped_at_500(fhir):
    for n in range(55):
        patient_make(f"p{n:02d}", last_updated=T0 + timedelta(seconds=n))
    assert len(ids(fhir("/fhir/Patient"))) == 50
    capped = fhir("/fhir/Patient", {"_count": 9999}).json()
    assert len(capped["entry"]) == 55
    assert "_count=500" in links(capped)["self"]


@pytest.mark.parametrize("params", [{"_summary": "count"}, {"_count": "0"}])
def test_summary_count_answers_the_total_only(fhir, results, params):
    bundle = fhir("/fhir/Observation", {"patient": "p1", **params}).json()
    assert (bundle["type"], bundle["total"]) == ("searchset", 3)
    assert "entry" not in bundle
    assert not AccessLog.objects.exists()


def test_total_none_skips_the_count(fhir, results):
    bundle = fhir("/fhir/Observation", {"_total": "none"}).json()
    assert "total" not in bundle and len(bundle["entry"]) == 4


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"name": "Doe"}, "name"),
        ({"patient": "p1"}, "patient"),  # Patient has no patient parameter
        ({"_id:exact": "p1"}, "_id:exact"),
        ({"_id": ""}, "_id"),
        ({"_sort": "-_lastUpdated"}, "_sort"),
    ],
)
def test_an_unknown_or_unsupported_parameter_is_a_400_naming_it(fhir, params, named):
    response = fhir("/fhir/Patient", params)
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["expression"] == [named] and repr(named) in issue["diagnostics"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"_lastUpdated": "yesterday"}, "_lastUpdated"),
        ({"_lastUpdated": "2025-13-01"}, "_lastUpdated"),
        ({"_lastUpdated": "ne2025-01-01"}, "_lastUpdated"),
        ({"_lastUpdated": "2025-01-01T25:00:00Z"}, "_lastUpdated"),
        ({"patient": "Group/g1"}, "patient"),
        ({"subject": "Patient/a b"}, "subject"),
        ({"status": "final,,amended"}, "status"),
        ({"_count": "-1"}, "_count"),
        ({"_count": "ten"}, "_count"),
        ({"_summary": "true"}, "_summary"),
        ({"_after": "not-a-cursor"}, "_after"),
        ({"_after": "999999999999999999_1"}, "_after"),
    ],
)
def test_a_bad_value_is_a_400_outcome(fhir, params, named):
    response = fhir("/fhir/Observation", params)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/fhir+json"
    issue = response.json()["issue"][0]
    assert (issue["severity"], issue["code"], issue["expression"]) == ("error", "invalid", [named])


def test_lenient_handling_ignores_unknown_parameters_and_says_so(fhir, results):
    response = fhir("/fhir/Observation", {"patient": "p2", "_sort": "date"}, Prefer="handling=lenient")
    bundle = response.json()
    assert [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "match"] == ["o3"]
    outcome = next(e for e in bundle["entry"] if e["search"]["mode"] == "outcome")["resource"]
    assert outcome["issue"][0]["severity"] == "warning" and "'_sort'" in outcome["issue"][0]["diagnostics"]
    assert "_sort" not in links(bundle)["self"]
    # A bad value of a supported parameter is still an error.
    assert fhir("/fhir/Observation", {"_lastUpdated": "soon"}, Prefer="handling=lenient").status_code == 400


def test_a_nul_character_is_a_400_not_a_database_error(fhir, results):
    response = fhir("/fhir/Observation", {"status": "final\x00"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["status"]


PARAM_NAMES = st.sampled_from(["_id", "patient", "subject", "status", "_lastUpdated", "_count", "_after", "_x", ""])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.lists(st.tuples(PARAM_NAMES, st.text(max_size=30)), max_size=4))
def test_no_query_string_makes_the_search_fail(fhir, params):
    response = fhir(f"/fhir/Observation?{urlencode(params)}")
    assert response.status_code in (200, 400), response.content
    assert response.json()["resourceType"] == ("Bundle" if response.status_code == 200 else "OperationOutcome")
