"""The FHIR client against a real FHIR server (sekmet on 127.0.0.1): CRUD, paging, If-Match,
Bulk $export, bearer and SMART Backend Services auth. A few wire behaviours no real server
shows on demand (503/429, an export that never finishes, a next link to another host) are
played by a tiny HTTP server in the test."""

import logging
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from apps.ehr.client import (
    FhirClient,
    FhirConfigError,
    FhirHttpError,
    FhirTransportError,
    client_for,
    token_cache_clear,
)
from apps.ehr.models import EhrSource

from .fhir_server import fhir_json, free_port, private_key_pem, tiny_server

# --- helpers -----------------------------------------------------------------------------------


def patient(family: str, **fields) -> dict:
    return {"resourceType": "Patient", "name": [{"family": family, "given": ["Test"]}], **fields}


@pytest.fixture
def fhir(fhir_server) -> Iterator[FhirClient]:
    with FhirClient(base_url=fhir_server) as client:
        yield client


@pytest.fixture(autouse=True)
def _fresh_tokens():
    token_cache_clear()
    yield
    token_cache_clear()


# --- against the real server: CRUD, paging, versions ---------------------------------------------


def test_create_then_read_returns_the_stored_resource_and_its_version(fhir):
    created = fhir.create(patient("Adeyemi", birthDate="1980-02-03"))
    assert created.status == 201
    assert created.version_id == "1"

    body, version = fhir.read_versioned("Patient", created.body["id"])
    assert body["name"][0]["family"] == "Adeyemi"
    assert body["birthDate"] == "1980-02-03"
    assert version == "1"
    assert fhir.read("Patient", created.body["id"])["id"] == created.body["id"]


def test_search_pages_follows_absolute_next_links_to_the_last_page(fhir, fhir_server):
    family = f"Paging{uuid.uuid4().hex[:8]}"
    ids = {fhir.create(patient(family)).body["id"] for _ in range(5)}

    pages = list(fhir.search_pages("Patient", {"family": family, "_count": "2"}))

    assert [len(page.get("entry", [])) for page in pages] == [2, 2, 1]
    assert {e["resource"]["id"] for page in pages for e in page["entry"]} == ids
    next_links = [link["url"] for page in pages for link in page["link"] if link["relation"] == "next"]
    assert len(next_links) == 2
    assert all(url.startswith(fhir_server) for url in next_links)  # absolute, as servers send them


def test_update_with_the_current_version_makes_a_new_version(fhir):
    task = fhir.create({"resourceType": "Task", "status": "requested", "intent": "order"}).body

    result = fhir.update({**task, "status": "accepted"}, if_match="1")

    assert (result.status, result.version_id) == (200, "2")
    assert fhir.read_versioned("Task", task["id"]) == ({**result.body}, "2")
    assert result.body["status"] == "accepted"


def test_update_with_a_stale_version_is_refused_with_412_and_changes_nothing(fhir):
    task = fhir.create({"resourceType": "Task", "status": "requested", "intent": "order"}).body
    fhir.update({**task, "status": "accepted"}, if_match="1")

    with pytest.raises(FhirHttpError) as refused:
        fhir.update({**task, "status": "rejected"}, if_match="1")

    assert refused.value.status == 412
    assert not refused.value.transient
    assert "conflict" in str(refused.value)
    assert "current is 2" in refused.value.diagnostics  # what the server said, kept for the outbox row
    assert fhir.read("Task", task["id"])["status"] == "accepted"


def test_a_missing_resource_is_a_permanent_error_with_the_servers_outcome(fhir):
    with pytest.raises(FhirHttpError) as missing:
        fhir.read("Patient", "does-not-exist")
    assert missing.value.status == 404
    assert not missing.value.transient
    assert missing.value.outcome["resourceType"] == "OperationOutcome"


def test_an_invalid_resource_is_refused_as_permanent(fhir):
    with pytest.raises(FhirHttpError) as refused:
        fhir.create({"resourceType": "Patient", "birthDate": "not-a-date"})
    assert refused.value.status == 400
    assert not refused.value.transient


def test_nobody_listening_is_a_transient_transport_error():
    client = FhirClient(base_url=f"http://127.0.0.1:{free_port()}/fhir", timeout=2)
    with pytest.raises(FhirTransportError) as down:
        client.read("Patient", "p1")
    assert down.value.transient
    assert "could not reach the EHR" in str(down.value)


def test_5xx_429_and_408_are_transient_other_4xx_permanent():
    answers = iter([(503, {"Retry-After": "7"}), (429, {}), (408, {}), (403, {})])

    def handle(request):
        status, headers = next(answers)
        return fhir_json(status, {"resourceType": "OperationOutcome", "issue": [{"code": "x"}]}, **headers)

    with tiny_server(handle) as (root, _):
        client = FhirClient(base_url=f"{root}/fhir", timeout=5)
        with pytest.raises(FhirTransportError) as unavailable:
            client.read("Patient", "p1")
        assert (unavailable.value.status, unavailable.value.retry_after) == (503, 7.0)
        for status in (429, 408):
            with pytest.raises(FhirTransportError) as busy:
                client.read("Patient", "p1")
            assert busy.value.status == status
        with pytest.raises(FhirHttpError) as forbidden:
            client.read("Patient", "p1")
        assert forbidden.value.status == 403 and not forbidden.value.transient


def test_a_source_without_a_base_url_cannot_make_a_client(db):
    with pytest.raises(FhirConfigError):
        client_for(EhrSource.objects.create(name="nowhere"))


# --- Bulk $export (sekmet serves it) ----------------------------------------------------------


def test_bulk_export_streams_the_exported_resources_and_reports_the_transaction_time(fhir):
    before = datetime.now(UTC) - timedelta(seconds=1)
    family = f"Bulk{uuid.uuid4().hex[:8]}"
    ids = {fhir.create(patient(family)).body["id"] for _ in range(3)}
    observation = fhir.create(
        {"resourceType": "Observation", "status": "final", "code": {"text": "pulse"}, "valueQuantity": {"value": 72}}
    ).body

    export = fhir.bulk_export(["Patient", "Observation"], since=before)
    resources = list(export)

    exported = {(r["resourceType"], r["id"]) for r in resources}
    assert {("Patient", i) for i in ids} <= exported
    assert ("Observation", observation["id"]) in exported
    assert {r["resourceType"] for r in resources} == {"Patient", "Observation"}
    assert export.transaction_time is not None and export.transaction_time >= before
    assert export.manifest["output"]


def test_bulk_export_since_leaves_out_what_did_not_change(fhir):
    fhir.create(patient("Older"))
    time.sleep(0.05)
    since = datetime.now(UTC)
    time.sleep(0.05)
    newer = fhir.create(patient("Newer")).body

    resources = list(fhir.bulk_export(["Patient"], since=since))

    assert [r["id"] for r in resources] == [newer["id"]]


def test_bulk_export_honours_retry_after_and_gives_up_after_its_bounded_wait():
    def handle(request):
        if "$export" in request.path:
            return 202, {"Content-Location": "/fhir/status/job1"}, b""
        if request.command == "DELETE":
            return 202, {}, b""
        return 202, {"Retry-After": "2", "X-Progress": "collecting"}, b""

    with tiny_server(handle) as (root, seen):
        client = FhirClient(base_url=f"{root}/fhir", timeout=5)
        waits: list[float] = []
        client.sleep = waits.append  # no real sleeping: the deadline is checked against the clock
        with pytest.raises(FhirTransportError, match="did not finish within 0 s"):
            list(client.bulk_export(["Patient"], since=None, max_wait=0.5))
        client.sleep = lambda seconds: (waits.append(seconds), time.sleep(0.01))
        with pytest.raises(FhirTransportError, match="did not finish"):
            list(client.bulk_export(["Patient"], since=None, max_wait=2.05))

    assert waits and all(w == 2.0 for w in waits)  # Retry-After, not a guess
    kick_offs = [r for r in seen if "$export" in r["path"]]
    assert kick_offs and all(r["headers"]["Prefer"] == "respond-async" for r in kick_offs)
    assert [r["method"] for r in seen].count("DELETE") == 2  # abandoned exports are cancelled


# --- credentials go to the EHR and nowhere else ---------------------------------------------------


def test_a_next_link_to_another_host_is_followed_without_credentials():
    def other(request):
        return fhir_json(200, {"resourceType": "Bundle", "type": "searchset", "entry": []})

    with tiny_server(other) as (other_root, other_seen):

        def ehr(request):
            return fhir_json(
                200,
                {
                    "resourceType": "Bundle",
                    "type": "searchset",
                    "link": [{"relation": "next", "url": f"{other_root}/fhir/Patient?page=2"}],
                },
            )

        with tiny_server(ehr) as (root, seen):
            client = client_for(
                EhrSource(name="x", base_url=f"{root}/fhir", auth_type="bearer", bearer_token="s3cret-token")
            )
            assert len(list(client.search_pages("Patient", {}))) == 2

    assert seen[0]["headers"]["Authorization"] == "Bearer s3cret-token"
    assert "Authorization" not in other_seen[0]["headers"]


# --- bearer and SMART Backend Services against the secured server ----------------------------------


def smart_source(server, client_id="clinops-rs", **fields) -> EhrSource:
    client = server.smart_clients[client_id]
    return EhrSource(
        name=f"smart-{client_id}",
        base_url=server.base_url,
        auth_type=EhrSource.Auth.SMART,
        client_id=client.client_id,
        key_id=client.key_id,
        private_key_pem=client.private_key_pem,
        token_url=server.token_url,
        **fields,
    )


def bearer_client(server, token: str | None = None) -> FhirClient:
    return client_for(
        EhrSource(name="b", base_url=server.base_url, auth_type="bearer", bearer_token=token or server.bearer_token)
    )


def test_bearer_token_is_sent_and_a_wrong_one_is_refused(smart_fhir_server):
    server = smart_fhir_server
    good = bearer_client(server)
    created = good.create(patient("Bearer"))
    assert good.read("Patient", created.body["id"])["name"][0]["family"] == "Bearer"

    wrong = bearer_client(server, "not-it")
    with pytest.raises(FhirHttpError) as refused:
        wrong.read("Patient", created.body["id"])
    assert refused.value.status == 401
    with pytest.raises(FhirHttpError):
        FhirClient(base_url=server.base_url).read("Patient", created.body["id"])  # no credentials at all


@pytest.mark.parametrize("client_id", ["clinops-rs", "clinops-es"], ids=["RS384", "ES384"])
def test_smart_backend_services_fetches_a_token_once_and_sends_it(smart_fhir_server, client_id, caplog):
    server = smart_fhir_server
    seeded = bearer_client(server).create({"resourceType": "Task", "status": "requested", "intent": "order"})
    client = client_for(smart_source(server, client_id))
    exchanges = []
    client.session.hooks["response"].append(lambda response, **kw: exchanges.append(response))

    with caplog.at_level(logging.DEBUG):
        task, version = client.read_versioned("Task", seeded.body["id"])
        client.update({**task, "status": "accepted"}, if_match=version)  # system/Task.write
        assert client.read("Task", seeded.body["id"])["status"] == "accepted"

    token_calls = [r for r in exchanges if r.url == server.token_url]
    fhir_calls = [r for r in exchanges if r.url.startswith(server.base_url)]
    assert len(token_calls) == 1  # cached for the later calls
    assert [r.status_code for r in fhir_calls] == [200, 200, 200]
    access_token = token_calls[0].json()["access_token"]
    assert all(r.request.headers["Authorization"] == f"Bearer {access_token}" for r in fhir_calls)

    # The client assertion, as the server verified it (SMART Backend Services claims).
    form = dict(p.split("=", 1) for p in token_calls[0].request.body.split("&"))
    assertion = form["client_assertion"]
    header = jwt.get_unverified_header(assertion)
    claims = jwt.decode(assertion, options={"verify_signature": False})
    assert header["alg"] == ("RS384" if client_id == "clinops-rs" else "ES384")
    assert header["kid"] == server.smart_clients[client_id].key_id
    assert claims["iss"] == claims["sub"] == client_id
    assert claims["aud"] == server.token_url
    assert 0 < claims["exp"] - time.time() <= 300
    assert form["grant_type"] == "client_credentials"

    assert access_token not in caplog.text
    assert assertion not in caplog.text


def test_smart_with_an_unregistered_key_is_refused_by_the_token_endpoint(smart_fhir_server):
    other_key = private_key_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    source = smart_source(smart_fhir_server)
    source.private_key_pem = other_key
    with pytest.raises(FhirHttpError) as refused:
        client_for(source).read("Patient", "anything")
    assert refused.value.status == 401
    assert not refused.value.transient
    assert "token endpoint" in str(refused.value) and "invalid_client" in str(refused.value)
    assert "verification failed" in refused.value.diagnostics


def test_smart_scopes_are_enforced_by_the_server(smart_fhir_server):
    source = smart_source(smart_fhir_server, scope="system/*.read")
    with pytest.raises(FhirHttpError) as forbidden:
        client_for(source).create({"resourceType": "Task", "status": "requested", "intent": "order"})
    assert forbidden.value.status == 403


def test_an_expired_or_revoked_token_is_replaced_once(smart_fhir_server):
    from apps.ehr.client import auth as client_auth

    source = smart_source(smart_fhir_server)
    client = client_for(source)
    # Poison the cache with a token the server never issued: the first call gets 401, the
    # client drops it, fetches a real one and the call succeeds.
    client.auth.headers(client.session, client.timeout)
    with client_auth._token_lock:
        key = next(iter(client_auth._token_cache))
        client_auth._token_cache[key] = ("revoked-token", time.monotonic() + 600)
    seeded = bearer_client(smart_fhir_server).create(patient("Revoked"))
    assert client.read("Patient", seeded.body["id"])["name"][0]["family"] == "Revoked"
