"""The generator: valid FHIR R4, repeatable by seed, and a plausible mix of events."""

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from fhir.resources.R4B import get_fhir_model_class

from apps.demo.generator import ORDER, Config, Rates, simulate

END = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
START = END - timedelta(days=30)


def dump(events) -> bytes:
    return "\n".join(json.dumps(e.resource, separators=(",", ":")) for e in events).encode()


@pytest.fixture(scope="module")
def events():
    return simulate(Config(seed=7), start=START, end=END)


def test_every_resource_validates_as_fhir_r4(events):
    for event in events:
        resource = event.resource
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert resource["meta"]["versionId"] and resource["meta"]["lastUpdated"]


def test_same_seed_same_bytes_and_another_seed_differs():
    assert dump(simulate(Config(seed=3), start=START, end=END)) == dump(simulate(Config(seed=3), start=START, end=END))
    assert dump(simulate(Config(seed=3), start=START, end=END)) != dump(simulate(Config(seed=4), start=START, end=END))


@pytest.mark.parametrize("seed", range(1, 6))
def test_events_are_in_time_order_inside_the_window_and_versions_rise(seed):
    events = simulate(Config(seed=seed), start=START, end=END)
    times = [e.at for e in events]
    assert times == sorted(times)
    assert times[0] >= START and times[-1] <= END
    seen: dict[str, int] = {}
    for event in events:
        key = f"{event.resource['resourceType']}/{event.resource['id']}"
        version = int(event.resource["meta"]["versionId"])
        assert version > seen.get(key, 0), key
        assert event.resource["meta"]["lastUpdated"] <= event.at.strftime("%Y-%m-%dT%H:%M:%SZ"), key
        seen[key] = version


def test_the_mix_covers_the_referral_lifecycle(events):
    kinds = Counter((e.resource["resourceType"], e.resource.get("status")) for e in events)
    assert {rtype for rtype, _ in kinds} == set(ORDER)
    for kind in [("ServiceRequest", "active"), ("Task", "requested"), ("Appointment", "booked"),
                 ("Appointment", "fulfilled"), ("Appointment", "noshow"), ("Appointment", "cancelled"),
                 ("Encounter", "finished")]:  # fmt: skip
        assert kinds[kind] > 0, kind
    srs = [e.resource for e in events if e.resource["resourceType"] == "ServiceRequest"]
    categories = Counter(sr["category"][0]["coding"][0]["code"] for sr in srs)
    assert set(categories) == {"3457005", "108252007"} and categories["3457005"] > 100  # referrals and lab orders
    srs = [sr for sr in srs if sr["category"][0]["coding"][0]["code"] == "3457005"]
    priorities = Counter(sr["priority"] for sr in srs)
    assert priorities["routine"] > priorities["urgent"] > 0
    specialties = Counter(sr["performerType"]["coding"][0]["code"] for sr in srs)
    assert specialties["394582007"] > 0  # dermatology: unmapped on purpose
    assert len(specialties) >= 6


def test_rates_are_configurable():
    quiet = simulate(Config(seed=7, rates=Rates(referrals_per_day=2)), start=START, end=END)
    busy = simulate(Config(seed=7, rates=Rates(referrals_per_day=20)), start=START, end=END)
    count = lambda evs: sum(e.resource["resourceType"] == "Task" for e in evs)  # noqa: E731 - a Task per referral
    assert count(busy) > 4 * count(quiet)
    never = simulate(Config(seed=7, rates=Rates(booked=0, visits_per_day=0, labs_per_day=0)), start=START, end=END)
    types = {e.resource["resourceType"] for e in never}
    assert "Appointment" not in types and "DiagnosticReport" not in types and "ServiceRequest" in types


def test_a_priority_change_is_a_new_service_request_version(events):
    versions: dict[str, list[dict]] = {}
    for event in events:
        if event.resource["resourceType"] == "ServiceRequest":
            versions.setdefault(event.resource["id"], []).append(event.resource)
    changed = [v for v in versions.values() if len(v) > 1 and v[1]["status"] == "active"]
    assert changed
    assert all(v[0]["priority"] != v[1]["priority"] for v in changed)
    revoked = [v for v in versions.values() if v[-1]["status"] == "revoked" and len(v) > 2]
    assert all(v[-1]["priority"] == v[-2]["priority"] for v in revoked)


def test_sites_and_clinicians_are_the_same_for_every_seed():
    def staff(seed):
        kinds = {"Location", "Practitioner", "PractitionerRole"}
        return [
            e.resource for e in simulate(Config(seed=seed), start=START, end=END) if e.resource["resourceType"] in kinds
        ]

    assert staff(1) == staff(2)


def test_lab_results_are_final_or_amended_with_ranges_flags_and_an_order_with_a_requester(events):
    by_ref = {f"{e.resource['resourceType']}/{e.resource['id']}": e.resource for e in events}
    reports = [e.resource for e in events if e.resource["resourceType"] == "DiagnosticReport"]
    assert Counter(r["status"] for r in reports).keys() == {"final", "amended"}
    for report in reports:
        order = by_ref[report["basedOn"][0]["reference"]]
        assert order["category"][0]["coding"][0]["code"] == "108252007" and order["requester"]
        assert all(r["reference"] in by_ref for r in report["result"])
    observations = [e.resource for e in events if e.resource["resourceType"] == "Observation"]
    flags = Counter(o["interpretation"][0]["coding"][0]["code"] for o in observations)
    assert flags["N"] > flags["H"] + flags["L"] > 0 and flags["HH"] + flags["LL"] > 0, flags
    assert all(o["referenceRange"][0]["low"] and o["referenceRange"][0]["high"] for o in observations)
    amended = [r for r in reports if r["status"] == "amended"]
    assert all(r["meta"]["versionId"] == "2" for r in amended)


def test_local_codes_some_not_mapped_and_visits_without_a_referral(events):
    resources = [e.resource for e in events]
    local_lab_only = [
        r for r in resources
        if r["resourceType"] == "DiagnosticReport" and all("loinc" not in c["system"] for c in r["code"]["coding"])
    ]  # fmt: skip
    assert local_lab_only  # the vitamin D send-out: a local code only, for a steward to map
    priorities = Counter(
        r["orderDetail"][0]["coding"][0]["code"] for r in resources if r.get("orderDetail")
    )  # the North EHR's local priority; T and P are not mapped in the demo map
    assert priorities["R"] > priorities["U"] > 0 and priorities["T"] + priorities["P"] > 0
    visits = [r for r in resources if r["resourceType"] == "Appointment" and "basedOn" not in r]
    assert {v["status"] for v in visits} >= {"booked", "fulfilled", "cancelled", "noshow"}
    appts = {r["id"] for r in resources if r["resourceType"] == "Appointment"}
    for rtype in ("QuestionnaireResponse", "DocumentReference"):
        linked = [r for r in resources if r["resourceType"] == rtype]
        assert linked
        for r in linked:
            related = (
                r["extension"][0]["valueReference"] if rtype == "QuestionnaireResponse" else r["context"]["related"][0]
            )
            assert related["reference"].removeprefix("Appointment/") in appts
