"""The official HL7 FHIR R4 examples (fixtures/hl7, see its README) ingest end to end.

One test per file and per way in: through the webhook (202, a receipt naming the message, the
message processed after commit, the typed row holding what the file says) and through
``ehr_import --strict`` (counted new, then unchanged on a second run). The expected values
are read from each file here, not taken from the pipeline's own extraction code.

The Bundles (collection, document, message, transaction) land entry by entry, with entries that
refer to each other by ``urn:uuid`` linked; a transaction with a conditional delete is refused whole.
"""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from apps.ehr.models import STORE_MODELS, EhrSource, InboxMessage, store_rows_of
from apps.ehr.services.sources import source_upsert

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "hl7"
RESOURCE_FILES = sorted(p for p in FIXTURES.glob("*.json") if not p.name.startswith("Bundle-"))
BUNDLE_FILES = sorted(FIXTURES.glob("Bundle-*.json"))
SOURCE = "hl7"
IMPORT_COLUMNS = ("new", "updated", "unchanged", "ignored", "failed")
# Bundles the webhook refuses whole, with the OperationOutcome's diagnostics. A conditional
# delete names no resource id, so it cannot be applied to the store (a transaction is all or nothing).
REFUSED = {
    "Bundle-bundle-transaction.json": "Bundle.entry[6].request.url must name the deleted resource as Type/id.",
}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8-sig"))


# --- what the file says, written out independently of apps.ehr.services.extract ---------


def reference(value: Any) -> str:
    """``Type/id`` of a Reference (absolute URLs and ``/_history/n`` dropped; ``#contained`` kept)."""
    target = (value or {}).get("reference", "") if isinstance(value, dict) else ""
    if target.startswith("#"):
        return target
    parts = target.split("/_history/")[0].split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else ""


def coding(concept: Any) -> str:
    """``system|code`` of the first coding of a CodeableConcept (or of the first of a list of them)."""
    if isinstance(concept, list):
        concept = concept[0] if concept else None
    codings = (concept or {}).get("coding") or []
    if not codings or not codings[0].get("code"):
        return ""
    return f"{codings[0].get('system', '')}|{codings[0]['code']}"


def moment(value: str | None) -> datetime | None:
    """A FHIR dateTime; a date without a time (2013, 2013-03, 2013-03-11) is its first moment, UTC."""
    if not value:
        return None
    if len(value) <= 10:
        year, month, day = ([*map(int, value.split("-")), 1, 1])[:3]
        return datetime(year, month, day, tzinfo=UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def as_decimals(document: Any) -> Any:
    """JSON with every number a Decimal: FHIR numbers are decimals, and PostgreSQL's jsonb gives
    -1.0E+245 (Observation-decimal.json) back as the equal -1000…0, which Python reads as an int."""
    return json.loads(json.dumps(document), parse_float=Decimal, parse_int=Decimal)


def first_name(resource: dict) -> dict:
    return (resource.get("name") or [{}])[0]


def actor(resource: dict, resource_type: str) -> str:
    refs = [reference(p.get("actor")) for p in resource.get("participant", [])]
    return next((r for r in refs if r.startswith(f"{resource_type}/")), "")


def first(values: list | None) -> Any:
    return values[0] if values else None


EXPECTED = {
    "Patient": lambda r: {
        "family": first_name(r).get("family", ""),
        "given": " ".join(first_name(r).get("given", [])),
        "gender": r.get("gender", ""),
        "birth_date": date.fromisoformat(r["birthDate"]) if "birthDate" in r else None,
        "active": r.get("active"),
    },
    "Practitioner": lambda r: {
        "family": first_name(r).get("family", ""),
        "given": " ".join(first_name(r).get("given", [])),
        "active": r.get("active"),
    },
    "Encounter": lambda r: {
        "status": r["status"],
        "class_code": f"{r['class'].get('system', '')}|{r['class']['code']}",
        "subject_ref": reference(r.get("subject")),
        "period_start": moment((r.get("period") or {}).get("start")),
    },
    "Appointment": lambda r: {
        "status": r["status"],
        "start": moment(r.get("start")),
        "patient_ref": actor(r, "Patient"),
        "practitioner_ref": actor(r, "Practitioner"),
    },
    "ServiceRequest": lambda r: {
        "status": r["status"],
        "intent": r["intent"],
        "code": coding(r.get("code")),
        "subject_ref": reference(r["subject"]),
        "requester_ref": reference(r.get("requester")),
    },
    "Task": lambda r: {
        "status": r["status"],
        "intent": r["intent"],
        "for_ref": reference(r.get("for")),
        "focus_ref": reference(r.get("focus")),
        "owner_ref": reference(r.get("owner")),
    },
    "Observation": lambda r: {
        "status": r["status"],
        "code": coding(r["code"]),
        "subject_ref": reference(r.get("subject")),
        "value_number": (r.get("valueQuantity") or {}).get("value"),
        "issued": moment(r.get("issued")),
    },
    "DiagnosticReport": lambda r: {
        "status": r["status"],
        "code": coding(r["code"]),
        "subject_ref": reference(r.get("subject")),
        "result_refs": [reference(x) for x in r.get("result", [])],
    },
    "DocumentReference": lambda r: {
        "status": r["status"],
        "type": coding(r.get("type")),
        "subject_ref": reference(r.get("subject")),
        "author_ref": reference(first(r.get("author"))),
    },
}


def assert_stored(resource: dict, fhir_id: str, revision: int = 1) -> None:
    """The typed row of ``resource`` holds what the file says."""
    row = store_rows_of(resource["resourceType"]).get(source__name=SOURCE, fhir_id=fhir_id)
    meta = resource.get("meta", {})
    assert (row.version_id, row.deleted, row.revision) == (meta.get("versionId", ""), False, revision)
    if "lastUpdated" in meta:
        assert row.last_updated == moment(meta["lastUpdated"])
    assert as_decimals(row.raw) == as_decimals({**resource, "id": fhir_id})
    expected = EXPECTED[resource["resourceType"]](resource) if resource["resourceType"] in EXPECTED else {}
    assert {name: getattr(row, name) for name in expected} == expected


# --- what a Bundle carries -----------------------------------------------------------------


def resolve_local(value: Any, local: dict[str, str]) -> Any:
    """References to another entry's ``urn:uuid:`` fullUrl, pointed at the ``Type/id`` it is stored as."""
    if isinstance(value, dict):
        return {k: local.get(v, v) if k == "reference" else resolve_local(v, local) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_local(v, local) for v in value]
    return value


def bundle_entries(bundle: dict) -> list[tuple[str, str, dict, str]]:
    """(type, id, resource, outcome) of each entry the inbox keeps, in order; reads and
    MessageHeaders carry no data. A later entry for the same resource updates it only when its
    versionId is higher (the same or no version: the first one stays)."""
    kept = [
        e
        for e in bundle.get("entry", [])
        if e.get("request", {}).get("method") != "GET" and e["resource"]["resourceType"] != "MessageHeader"
    ]
    local = {}
    for entry in kept:
        full_url, resource = entry.get("fullUrl", ""), entry["resource"]
        if full_url.startswith("urn:uuid:"):
            local[full_url] = f"{resource['resourceType']}/{resource.get('id', full_url.removeprefix('urn:uuid:'))}"
    out, newest = [], {}
    for entry in kept:
        resource = resolve_local(entry["resource"], local)
        rtype = resource["resourceType"]
        rid = resource.get("id") or entry["fullUrl"].removeprefix("urn:uuid:").rsplit("/", 1)[-1]
        version = int(resource.get("meta", {}).get("versionId", 0))
        # Every R4 type is stored (typed, or in the generic store): none is ignored.
        outcome = "new" if (rtype, rid) not in newest else "updated" if version > newest[rtype, rid] else "unchanged"
        newest[rtype, rid] = max(version, newest.get((rtype, rid), version))
        out.append((rtype, rid, resource, outcome))
    return out


def assert_bundle_stored(entries: list[tuple[str, str, dict, str]]) -> None:
    """Each resource of the Bundle is stored as its newest entry, once per version kept."""
    newest, revisions = {}, {}
    for rtype, rid, resource, outcome in entries:
        if outcome in ("new", "updated"):
            newest[rtype, rid] = resource
            revisions[rtype, rid] = revisions.get((rtype, rid), 0) + 1
    for (_, rid), resource in newest.items():
        assert_stored(resource, rid, revision=revisions[resource["resourceType"], rid])


# --- the two ways in --------------------------------------------------------------------------


@pytest.fixture
def hl7_source(db) -> EhrSource:
    source, token = source_upsert(name=SOURCE)
    source.token = token
    return source


def post(client, source: EhrSource, body: bytes):
    return client.post(
        reverse("ehr-webhook", args=[source.name]),
        data=body,
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {source.token}",
    )


def ehr_import(path: Path) -> tuple[str, dict[str, dict[str, int]], CommandError | None]:
    """Run ``ehr_import --strict``; the output, its table as {type: {column: n}}, and the error if any."""
    out = StringIO()
    error = None
    try:
        call_command("ehr_import", "--source", SOURCE, str(path), "--strict", stdout=out, stderr=StringIO())
    except CommandError as exc:
        error = exc
    text = out.getvalue()
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("resource type"))
    table = {}
    for line in lines[header + 1 :]:
        name, *numbers = line.rsplit(maxsplit=len(IMPORT_COLUMNS))
        table[name.strip()] = dict(zip(IMPORT_COLUMNS, (int(n.replace(",", "")) for n in numbers), strict=True))
        if name.strip() == "total":
            break
    return text, table, error


@pytest.mark.parametrize("path", RESOURCE_FILES, ids=[p.name for p in RESOURCE_FILES])
def test_example_through_the_webhook(path, client, hl7_source, django_capture_on_commit_callbacks):
    resource = load(path)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, hl7_source, path.read_bytes())
    assert response.status_code == 202, response.content
    message = InboxMessage.objects.get()
    assert response.json()["messages"] == [
        {
            "id": message.pk,
            "resourceType": resource["resourceType"],
            "resourceId": resource["id"],
            "operation": "upsert",
            "duplicate": False,
        }
    ]
    assert (message.status, message.outcome, message.last_error) == (InboxMessage.Status.PROCESSED, "new", "")
    assert_stored(resource, resource["id"])


@pytest.mark.parametrize("path", RESOURCE_FILES, ids=[p.name for p in RESOURCE_FILES])
def test_example_through_ehr_import(path):
    resource = load(path)
    rtype = resource["resourceType"]
    output, table, error = ehr_import(path)
    assert error is None, output
    assert table[rtype] == {"new": 1, "updated": 0, "unchanged": 0, "ignored": 0, "failed": 0}
    assert_stored(resource, resource["id"])
    output, table, error = ehr_import(path)
    assert error is None, output
    assert table[rtype] == {"new": 0, "updated": 0, "unchanged": 1, "ignored": 0, "failed": 0}
    assert InboxMessage.objects.get().status == InboxMessage.Status.PROCESSED


@pytest.mark.parametrize("path", BUNDLE_FILES, ids=[p.name for p in BUNDLE_FILES])
def test_bundle_through_the_webhook(path, client, hl7_source, django_capture_on_commit_callbacks):
    bundle = load(path)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, hl7_source, path.read_bytes())
    if path.name in REFUSED:
        assert response.status_code == 400
        assert response.json()["issue"][0]["diagnostics"] == REFUSED[path.name]
        assert not InboxMessage.objects.exists()
        return
    assert response.status_code == 202, response.content
    entries = bundle_entries(bundle)
    lines = response.json()["messages"]
    assert [(line["resourceType"], line["resourceId"]) for line in lines] == [(e[0], e[1]) for e in entries]
    messages = InboxMessage.objects.in_bulk([line["id"] for line in lines])
    assert [(messages[line["id"]].status, messages[line["id"]].outcome) for line in lines] == [
        (InboxMessage.Status.PROCESSED, outcome) for *_, outcome in entries
    ]
    assert_bundle_stored(entries)


@pytest.mark.parametrize("path", BUNDLE_FILES, ids=[p.name for p in BUNDLE_FILES])
def test_bundle_through_ehr_import(path):
    if path.name in REFUSED:
        output, table, error = ehr_import(path)
        assert f"{path}: {REFUSED[path.name]}" in output
        assert table["(unreadable)"]["failed"] == 1 and str(error).startswith("1 entry failed; the rest was imported")
        assert not InboxMessage.objects.exists()
        return
    entries = bundle_entries(load(path))
    expected: dict[str, dict[str, int]] = {}
    for rtype, _, _, outcome in entries:
        expected.setdefault(rtype, dict.fromkeys(IMPORT_COLUMNS, 0))[outcome] += 1
    output, table, error = ehr_import(path)
    assert error is None, output
    assert {t: c for t, c in table.items() if t != "total"} == expected
    assert_bundle_stored(entries)
    output, table, error = ehr_import(path)
    assert error is None, output
    assert table["total"] == {**dict.fromkeys(IMPORT_COLUMNS, 0), "unchanged": len(entries)}


def test_every_required_type_has_examples_here():
    """The folder holds examples of each type issue 3 names, and every type has expectations."""
    types = {load(p)["resourceType"] for p in RESOURCE_FILES}
    assert types == set(EXPECTED)
    assert len(RESOURCE_FILES) == 152


def test_a_transaction_links_its_entries_through_their_urn_uuids(
    client, hl7_source, django_capture_on_commit_callbacks
):
    """Bundle-hla-1 creates a DiagnosticReport and the Observations it reports, linked by urn:uuid."""
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, hl7_source, (FIXTURES / "Bundle-hla-1.json").read_bytes()).status_code == 202
    report = STORE_MODELS["DiagnosticReport"].objects.get(fhir_id="b0a4b18e-94e7-4b1b-8031-c7ae4bdd8db9")
    stored = {o.reference: o for o in STORE_MODELS["Observation"].objects.filter(source=hl7_source)}
    assert len(stored) == 9 and len(report.result_refs) == 3
    assert sorted(stored[ref].code_display for ref in report.result_refs) == [
        f"HLA-{gene} [Type] by High resolution" for gene in "ABC"
    ]
