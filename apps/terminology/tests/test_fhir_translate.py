"""FHIR R4 ConceptMap/$translate: GET and POST, answers as Parameters, errors as OperationOutcome."""

import json

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.parameters import Parameters

from apps.core.api_tokens import api_token_issue
from apps.core.roles import Role
from tests.plugins.core import UserFactory
from tests.plugins.terminology import LOCAL, PRIORITY, activated_now, draft_with, priority_map, row

pytestmark = pytest.mark.django_db
URL = "/fhir/ConceptMap/$translate"
FHIR_JSON = "application/fhir+json"


@pytest.fixture
def concept_map(steward_a, steward_b, django_capture_on_commit_callbacks):
    concept_map = priority_map()
    rows = [row("S", "stat", source_display="Stat", target_display="STAT"), row("T")]
    activated_now(concept_map, rows, author=steward_a, approver=steward_b, hooks=django_capture_on_commit_callbacks)
    return concept_map


@pytest.fixture
def api(client, own_site):
    client.force_login(UserFactory(role=Role.SCHEDULER, sites=[own_site]))
    return client


def answer(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == FHIR_JSON
    body = response.json()
    Parameters.model_validate(body)
    params = {}
    for p in body["parameter"]:
        value = p.get("part") or next(v for k, v in p.items() if k.startswith("value"))
        params.setdefault(p["name"], []).append(value)
    return params


def parts(match):
    return {p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in match}


def outcome(response, status):
    assert response.status_code == status, response.content
    body = response.json()
    OperationOutcome.model_validate(body)
    return body["issue"][0]


def test_get_a_mapped_code(api, concept_map):
    got = answer(api.get(URL, {"system": LOCAL, "code": "S", "targetsystem": PRIORITY}))
    assert got["result"] == [True]
    assert "maps to stat (equivalent)" in got["message"][0]
    assert [parts(m) for m in got["match"]] == [
        {
            "equivalence": "equivalent",
            "concept": {"system": PRIORITY, "code": "stat", "display": "STAT"},
            "source": concept_map.url,
        }
    ]


def test_get_a_code_that_is_not_mapped(api, concept_map):
    got = answer(api.get(URL, {"system": LOCAL, "code": "T", "targetsystem": PRIORITY}))
    assert got["result"] == [False] and "has no equivalent" in got["message"][0]
    assert [parts(m) for m in got["match"]] == [{"equivalence": "unmatched", "source": concept_map.url}]


def test_get_an_unmapped_code(api, concept_map):
    got = answer(api.get(URL, {"system": LOCAL, "code": "Q", "targetsystem": PRIORITY}))
    assert got["result"] == [False] and "match" not in got
    assert "is not a known code" in got["message"][0]


def test_the_target_is_found_when_the_system_has_one_map(api, concept_map):
    assert answer(api.get(URL, {"system": LOCAL, "code": "S"}))["result"] == [True]


def test_a_system_nobody_maps(api, concept_map):
    got = answer(api.get(URL, {"system": "http://example.org/nothing", "code": "S"}))
    assert got["result"] == [False] and "No active concept map" in got["message"][0]


def test_post_parameters_with_system_and_code(api, concept_map):
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "url", "valueUri": concept_map.url},
            {"name": "system", "valueUri": LOCAL},
            {"name": "code", "valueCode": "S"},
            {"name": "targetsystem", "valueUri": PRIORITY},
        ],
    }
    got = answer(api.post(URL, json.dumps(body), content_type=FHIR_JSON))
    assert got["result"] == [True] and parts(got["match"][0])["concept"]["code"] == "stat"


def test_post_a_coding(api, concept_map):
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "coding", "valueCoding": {"system": LOCAL, "code": "T"}}],
    }
    got = answer(api.post(URL, json.dumps(body), content_type="application/json"))
    assert got["result"] == [False] and parts(got["match"][0])["equivalence"] == "unmatched"


def test_a_named_draft_version_can_be_tried_before_it_is_active(api, concept_map, steward_a):
    draft_with(concept_map, [row("S", "stat"), row("T", "urgent", "wider")], by=steward_a)
    got = answer(api.get(URL, {"url": concept_map.url, "conceptMapVersion": "2", "system": LOCAL, "code": "T"}))
    assert got["result"] == [True] and "Version 2 is draft" in got["message"][0]
    assert answer(api.get(URL, {"url": concept_map.url, "system": LOCAL, "code": "T"}))["result"] == [False]


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ({"system": LOCAL}, 400, "code is required"),
        ({"code": "S"}, 400, "system is required"),
        ({"system": LOCAL, "code": "S", "colour": "red"}, 400, "Unknown parameter 'colour'"),
        ({"system": LOCAL, "code": "S", "reverse": "true"}, 400, "reverse translation is not supported"),
        ({"system": LOCAL, "code": "S", "targetsystem": "http://nowhere"}, 400, "not a code system known here"),
        ({"url": "http://example.org/ConceptMap/none", "system": LOCAL, "code": "S"}, 404, "There is no ConceptMap"),
        ({"system": LOCAL, "code": "S", "conceptMapVersion": "1"}, 400, "conceptMapVersion needs url"),
        ({"system": LOCAL, "code": "S\x00", "targetsystem": PRIORITY}, 400, "holds a NUL character"),
        ({"system": LOCAL, "code": "S", "_format": "xml"}, 406, "answers in JSON only"),
    ],
)
def test_bad_requests_get_an_operation_outcome(api, concept_map, query, status, says):
    assert says in outcome(api.get(URL, query), status)["diagnostics"]


def test_the_url_and_the_system_must_agree(api, concept_map):
    issue = outcome(api.get(URL, {"url": concept_map.url, "system": PRIORITY, "code": "S"}), 400)
    assert f"translates codes of {LOCAL}" in issue["diagnostics"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        ("system=x&code=y", "application/x-www-form-urlencoded", 415, "Send a FHIR Parameters resource"),
        ("{not json", FHIR_JSON, 400, "The body is not JSON"),
        ('{"resourceType": "Patient"}', FHIR_JSON, 400, "must be a FHIR Parameters resource"),
        ('{"resourceType": "Parameters", "parameter": [{"name": 3}]}', FHIR_JSON, 400, "not valid FHIR R4"),
        (
            '{"resourceType": "Parameters", "parameter": [{"name": "conceptMap", "valueString": "x"}]}',
            FHIR_JSON,
            400,
            "inline ConceptMap is not supported",
        ),
    ],
)
def test_bad_posts_get_an_operation_outcome(api, concept_map, body, content_type, status, says):
    assert says in outcome(api.post(URL, body, content_type=content_type), status)["diagnostics"]


def test_anonymous_is_told_to_authenticate(client, concept_map):
    response = client.get(URL, {"system": LOCAL, "code": "S"})
    assert outcome(response, 401)["code"] == "login"
    assert response["WWW-Authenticate"].startswith("Token")


@pytest.mark.parametrize("keyword", ["Token", "Bearer"])
def test_a_token_works(client, concept_map, own_site, keyword):
    user = UserFactory(role=Role.INTEGRATION_ADMIN, sites=[own_site])
    _, key = api_token_issue(user=user, name="t", mfa_verified=True)
    response = client.get(URL, {"system": LOCAL, "code": "S"}, HTTP_AUTHORIZATION=f"{keyword} {key}")
    assert answer(response)["result"] == [True]


@pytest.mark.parametrize("role", Role.ALL)
def test_every_signed_in_role_may_translate(client, concept_map, own_site, role):
    client.force_login(UserFactory(role=role, sites=[own_site]))
    assert answer(client.get(URL, {"system": LOCAL, "code": "S"}))["result"] == [True]


def _translate_body(code: str = "S") -> str:
    return json.dumps(
        {
            "resourceType": "Parameters",
            "parameter": [{"name": "system", "valueUri": LOCAL}, {"name": "code", "valueCode": code}],
        }
    )


def test_a_signed_in_browser_posts_with_its_csrf_token_and_without_it_is_refused(concept_map, own_site):
    from django.conf import settings
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(UserFactory(role=Role.SCHEDULER, sites=[own_site]))
    token = "k" * 32
    browser.cookies[settings.CSRF_COOKIE_NAME] = token
    with_token = browser.post(URL, _translate_body(), content_type=FHIR_JSON, HTTP_X_CSRFTOKEN=token)
    assert answer(with_token)["result"] == [True]
    without = outcome(browser.post(URL, _translate_body(), content_type=FHIR_JSON), 403)
    assert "CSRF" in without["diagnostics"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('{"resourceType": "Parameters", "parameter": ' + "[" * 5000 + "]" * 5000 + "}", "nests 5001 levels deep"),
        ('{"resourceType": "Parameters", "id": "\\udc00"}', "lone UTF-16 surrogate (\\ud800-\\udfff) at id"),
    ],
)
def test_hostile_posts_are_400_saying_why(api, concept_map, body, says):
    assert says in outcome(api.post(URL, body, content_type=FHIR_JSON), 400)["diagnostics"]
