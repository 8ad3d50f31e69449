"""Polling a real FHIR server (sekmet on 127.0.0.1) into the inbox and the local store.

The database is committed for real here (``transaction=True``): the inbox processes what a
pass stored after commit, as it does in production, so these tests see the local store fill.
The server lives for the module while the database is emptied after each test, so every pass
starts with no cursor and reads whatever earlier tests left on the server too: assertions are
about the resources each test made.
"""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.ehr.client import FhirClient, FhirTransportError
from apps.ehr.models import EhrSource, InboxMessage, Observation, Patient, PollCursor, Task
from apps.ehr.services.envelope import parse_instant
from apps.ehr.services.polling import source_poll, sources_due_for_poll
from apps.ehr.tasks import sources_poll_due_task

from .fhir_server import fhir_json, free_port, tiny_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fhir(fhir_server):
    with FhirClient(base_url=fhir_server) as client:
        yield client


@pytest.fixture
def source(fhir_server):
    return EhrSource.objects.create(name="poll-ehr", base_url=fhir_server, poll_resource_types=["Patient"])


def make_patient(fhir, family: str) -> dict:
    return fhir.create({"resourceType": "Patient", "name": [{"family": family}], "gender": "female"}).body


def make_observation(fhir, patient_id: str, value: float) -> dict:
    return fhir.create(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}], "text": "Heart rate"},
            "subject": {"reference": f"Patient/{patient_id}"},
            "valueQuantity": {"value": value, "unit": "/min"},
        }
    ).body


def stamp(resource: dict):
    return parse_instant(resource["meta"]["lastUpdated"])


def cursor_of(source, resource_type):
    return PollCursor.objects.get(source=source, resource_type=resource_type)


def by_type(result):
    return {t.resource_type: t for t in result.types}


def test_a_pass_brings_new_resources_into_the_store_and_a_second_pass_reads_nothing(fhir, source):
    patients = [make_patient(fhir, f"Polled{n}") for n in range(3)]
    observations = [make_observation(fhir, patients[0]["id"], v) for v in (61, 88)]

    first = by_type(source_poll(source_id=source.pk, resource_types=["Patient", "Observation"]))

    assert not first["Patient"].error and not first["Observation"].error
    stored = Patient.objects.filter(source=source, fhir_id__in=[p["id"] for p in patients])
    assert sorted(stored.values_list("family", flat=True)) == ["Polled0", "Polled1", "Polled2"]
    observed = Observation.objects.filter(source=source, fhir_id__in=[o["id"] for o in observations])
    assert sorted(observed.values_list("value_number", flat=True)) == [61.0, 88.0]
    assert set(observed.values_list("subject_ref", flat=True)) == {f"Patient/{patients[0]['id']}"}
    messages = InboxMessage.objects.filter(source=source, resource_id__in=[p["id"] for p in patients])
    assert set(messages.values_list("channel", "status")) == {("poll", "processed")}
    # The cursor is the newest meta.lastUpdated read, kept in the database.
    assert cursor_of(source, "Patient").cursor == stamp(patients[-1])
    assert cursor_of(source, "Observation").cursor == stamp(observations[-1])
    assert first["Patient"].cursor == stamp(patients[-1])

    second = by_type(source_poll(source_id=source.pk, resource_types=["Patient", "Observation"]))

    assert [(t.resources, t.stored, t.error) for t in second.values()] == [(0, 0, ""), (0, 0, "")]
    assert cursor_of(source, "Patient").cursor == stamp(patients[-1])

    changed = fhir.update({**patients[1], "name": [{"family": "Renamed"}]}, if_match="1").body
    third = by_type(source_poll(source_id=source.pk))  # the source's own list: Patient

    assert list(third) == ["Patient"]
    assert (third["Patient"].resources, third["Patient"].stored) == (1, 1)
    row = Patient.objects.get(source=source, fhir_id=patients[1]["id"])
    assert (row.family, row.version_id, row.revision) == ("Renamed", "2", 2)
    assert cursor_of(source, "Patient").cursor == stamp(changed)


def test_a_small_page_size_follows_next_links_through_every_page(fhir, source):
    subject = make_patient(fhir, "Pager")["id"]
    made = [make_observation(fhir, subject, 60 + n) for n in range(5)]
    on_server = sum(len(p.get("entry", [])) for p in fhir.search_pages("Observation", {"_count": "100"}))

    result = by_type(source_poll(source_id=source.pk, resource_types=["Observation"], page_size=2))

    assert result["Observation"].resources == on_server
    assert result["Observation"].pages == (on_server + 1) // 2
    assert Observation.objects.filter(source=source, fhir_id__in=[o["id"] for o in made]).count() == 5
    assert cursor_of(source, "Observation").cursor == stamp(made[-1])


def test_a_pass_cut_short_keeps_what_it_stored_and_the_next_pass_catches_up(fhir, source, monkeypatch):
    source_poll(source_id=source.pk)  # up to date with whatever is on the server
    new = [make_patient(fhir, f"Late{n}") for n in range(5)]
    real_request = FhirClient.request
    calls = []

    def cut_after_first_page(self, method, path, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise FhirTransportError("GET Patient: could not reach the EHR (ConnectionError).")
        return real_request(self, method, path, **kwargs)

    monkeypatch.setattr(FhirClient, "request", cut_after_first_page)
    cut = by_type(source_poll(source_id=source.pk, page_size=2))["Patient"]

    assert "could not reach the EHR" in cut.error
    assert (cut.pages, cut.resources) == (1, 2)
    cursor = cursor_of(source, "Patient")
    assert cursor.cursor == stamp(new[1])  # the end of the stored page, not beyond
    assert "could not reach the EHR" in cursor.last_error
    assert Patient.objects.filter(source=source, family__startswith="Late").count() == 2

    monkeypatch.setattr(FhirClient, "request", real_request)
    caught_up = by_type(source_poll(source_id=source.pk, page_size=2))["Patient"]

    assert (caught_up.resources, caught_up.error) == (3, "")
    assert sorted(
        Patient.objects.filter(source=source, family__startswith="Late").values_list("family", flat=True)
    ) == [f"Late{n}" for n in range(5)]
    cursor.refresh_from_db()
    assert (cursor.cursor, cursor.last_error) == (stamp(new[-1]), "")


def test_a_server_that_ignores_sort_moves_the_cursor_only_after_the_whole_pass(source):
    """Pages in no order (newest first here): the cursor may not move page by page, or a pass
    cut short after page 1 would skip the older resources on page 2 for good."""

    def patient_at(pid, minute):
        when = f"2026-01-01T10:{minute:02d}:00.000Z"
        return {"resourceType": "Patient", "id": pid, "meta": {"versionId": "1", "lastUpdated": when}}

    pages = {
        "1": [patient_at("p3", 30), patient_at("p4", 40)],
        "2": [patient_at("p1", 10), patient_at("p2", 20)],
    }
    broken = {"page 2": True}

    def ehr(request):
        page = "2" if "page=2" in request.path else "1"
        if page == "2" and broken["page 2"]:
            return fhir_json(503, {"resourceType": "OperationOutcome", "issue": [{"code": "transient"}]})
        links = [{"relation": "self", "url": f"{root}/fhir/Patient?_count=2"}]  # no _sort: it was ignored
        if page == "1":
            links.append({"relation": "next", "url": f"{root}/fhir/Patient?_count=2&page=2"})
        entries = [{"resource": r, "search": {"mode": "match"}} for r in pages[page]]
        return fhir_json(200, {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries})

    with tiny_server(ehr) as (root, _):
        source.base_url = f"{root}/fhir"
        source.save()
        cut = by_type(source_poll(source_id=source.pk, page_size=2))["Patient"]
        assert "HTTP 503" in cut.error
        assert cursor_of(source, "Patient").cursor is None  # page 1 is stored, the cursor stays
        assert set(Patient.objects.filter(source=source).values_list("fhir_id", flat=True)) == {"p3", "p4"}

        broken["page 2"] = False
        whole = by_type(source_poll(source_id=source.pk, page_size=2))["Patient"]

    assert (whole.resources, whole.stored, whole.error) == (4, 2, "")
    assert set(Patient.objects.filter(source=source).values_list("fhir_id", flat=True)) == {"p1", "p2", "p3", "p4"}
    assert cursor_of(source, "Patient").cursor == parse_instant("2026-01-01T10:40:00Z")


def test_bulk_export_polling_stores_the_export_and_moves_the_cursors_to_its_transaction_time(fhir, source):
    patients = [make_patient(fhir, f"Bulk{n}") for n in range(2)]
    task = fhir.create(
        {
            "resourceType": "Task",
            "status": "requested",
            "intent": "order",
            "for": {"reference": f"Patient/{patients[0]['id']}"},
        }
    ).body

    first = by_type(source_poll(source_id=source.pk, resource_types=["Patient", "Task"], use_bulk=True))

    assert not first["Patient"].error and not first["Task"].error
    assert Patient.objects.filter(source=source, fhir_id__in=[p["id"] for p in patients]).count() == 2
    assert Task.objects.get(source=source, fhir_id=task["id"]).for_ref == f"Patient/{patients[0]['id']}"
    assert set(InboxMessage.objects.filter(source=source).values_list("channel", flat=True)) == {"poll"}
    patient_cursor = cursor_of(source, "Patient").cursor
    assert patient_cursor >= stamp(patients[-1])
    assert cursor_of(source, "Task").cursor == patient_cursor  # the export's transactionTime

    again = by_type(source_poll(source_id=source.pk, resource_types=["Patient", "Task"], use_bulk=True))
    assert [(t.resources, t.stored) for t in again.values()] == [(0, 0), (0, 0)]
    by_search = by_type(source_poll(source_id=source.pk, resource_types=["Patient", "Task"]))
    assert [t.resources for t in by_search.values()] == [0, 0]


def test_the_source_setting_chooses_bulk_export(fhir, source):
    source.use_bulk_export = True
    source.save()
    make_patient(fhir, "BySetting")

    result = source_poll(source_id=source.pk)

    assert result.bulk
    assert Patient.objects.filter(source=source, family="BySetting").exists()


def test_an_unreachable_ehr_records_the_error_and_keeps_the_cursor(source):
    source.base_url = f"http://127.0.0.1:{free_port()}/fhir"
    source.save()
    before = timezone.now() - timedelta(days=1)
    PollCursor.objects.create(source=source, resource_type="Patient", cursor=before)

    result = source_poll(source_id=source.pk)

    assert not result.ok
    cursor = cursor_of(source, "Patient")
    assert cursor.cursor == before
    assert "could not reach the EHR" in cursor.last_error
    assert cursor.last_run_at is not None


def test_a_type_the_server_does_not_know_fails_alone(fhir, source):
    make_patient(fhir, "Alongside")
    result = by_type(source_poll(source_id=source.pk, resource_types=["NotAType", "Patient"]))

    assert "HTTP 404" in result["NotAType"].error
    assert result["Patient"].error == ""
    assert Patient.objects.filter(source=source, family="Alongside").exists()


def test_ehr_sync_prints_a_summary_per_type(fhir, source, capsys):
    make_patient(fhir, "Commanded")

    call_command("ehr_sync", "--source", "poll-ehr", "--type", "Patient", "--type", "Observation")

    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.split()}
    patient_line = lines["Patient"]
    assert int(patient_line[2]) >= 1  # resources
    assert patient_line[4].startswith(str(cursor_of(source, "Patient").cursor.date()))
    assert "Observation" in lines
    assert "(search)" in out


def test_ehr_sync_fails_loudly(source):
    with pytest.raises(CommandError, match="No EHR source named 'nope'"):
        call_command("ehr_sync", "--source", "nope")
    source.base_url = f"http://127.0.0.1:{free_port()}/fhir"
    source.save()
    with pytest.raises(CommandError, match="1 type\\(s\\) failed: Patient"):
        call_command("ehr_sync", "--source", "poll-ehr")


def test_the_beat_task_polls_the_sources_that_are_due(fhir, fhir_server):
    due = EhrSource.objects.create(
        name="due", base_url=fhir_server, poll_enabled=True, poll_interval_seconds=300, poll_resource_types=["Patient"]
    )
    EhrSource.objects.create(name="off", base_url=fhir_server, poll_enabled=False)
    EhrSource.objects.create(name="inactive", base_url=fhir_server, poll_enabled=True, is_active=False)
    made = make_patient(fhir, "Beat")

    assert sources_poll_due_task.delay().get() == 1

    assert Patient.objects.filter(source=due, fhir_id=made["id"]).exists()
    assert set(PollCursor.objects.values_list("source__name", flat=True)) == {"due"}
    assert sources_due_for_poll() == []  # it just ran
    assert sources_due_for_poll(now=timezone.now() + timedelta(seconds=301)) == [due.pk]
