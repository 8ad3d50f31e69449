"""The consult note goes back to the referrer: the EHR's DocumentReference for the referral's
visit is linked to the referrer's Task as its output (through the outbox) and shown on the
timeline, whichever of the note and the visit's end arrives first (all through real ingestion)."""

import pytest

from apps.ehr.models import OutboxMessage
from apps.referrals.models import Referral
from apps.referrals.workflow import State
from apps.workflow.models import Transition
from tests.plugins.referral_feed import appointment, feed, make_source, service_request, task

pytestmark = pytest.mark.django_db


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def scheduled(capture):
    source, _ = make_source()
    feed(source, service_request(), task(), appointment("a1"), capture=capture)
    assert Referral.objects.get().state == State.SCHEDULED
    return source


def encounter(status="finished", version="1") -> dict:
    return {
        "resourceType": "Encounter", "id": "e1", "meta": {"versionId": version}, "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "Patient/p1"}, "appointment": [{"reference": "Appointment/a1"}],
    }  # fmt: skip


def note(doc_id="n1", *, encounter_id="e1", title="Cardiology consult note", status="current") -> dict:
    return {
        "resourceType": "DocumentReference", "id": doc_id, "meta": {"versionId": "1"}, "status": status,
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}], "text": title},
        "subject": {"reference": "Patient/p1"}, "date": "2026-04-01T15:00:00Z",
        "content": [{"attachment": {"contentType": "text/plain", "data": "Tm90ZQ=="}}],
        "context": {"encounter": [{"reference": f"Encounter/{encounter_id}"}]},
    }  # fmt: skip


def _outputs() -> list[list[dict]]:
    return [m.changes["output"] for m in OutboxMessage.objects.filter(resource_type="Task").order_by("id")
            if "output" in m.changes]  # fmt: skip


def test_the_note_after_the_visit_goes_to_the_referrers_task_and_the_timeline(scheduled, capture):
    feed(scheduled, encounter(), capture=capture)
    referral = Referral.objects.get()
    assert referral.state == State.COMPLETED and _outputs() == []
    feed(scheduled, note(), capture=capture)
    [output] = _outputs()
    assert output == [{
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4", "display": "Consult note"}],
                 "text": "Consult note"},
        "valueReference": {"reference": "DocumentReference/n1", "display": "Cardiology consult note"},
    }]  # fmt: skip
    message = OutboxMessage.objects.get(dedupe_key__contains="consult-note")
    assert (message.operation, message.resource_id) == ("update", "t1")
    log = Transition.objects.get(item_id=referral.pk, transition="consult_note")
    assert log.source == "ehr" and log.reason == (
        "Cardiology consult note from the EHR for the visit: sent to the referrer with the closed loop."
    )
    # The same note again (a replay, a poll) links nothing twice; a second note keeps the first.
    feed(scheduled, {**note(), "meta": {"versionId": "2"}, "description": "amended"}, capture=capture)
    assert len(_outputs()) == 1
    feed(scheduled, note("n2", title="Echo report"), capture=capture)
    assert [o["valueReference"]["reference"] for o in _outputs()[-1]] == [
        "DocumentReference/n1", "DocumentReference/n2",
    ]  # fmt: skip


def test_a_note_before_the_visit_ends_is_linked_when_the_referral_completes(scheduled, capture):
    feed(scheduled, encounter(status="in-progress"), note(), capture=capture)
    assert Referral.objects.get().state == State.SCHEDULED and _outputs() == []  # not before completion
    feed(scheduled, encounter(version="2"), capture=capture)
    assert Referral.objects.get().state == State.COMPLETED
    assert [o["valueReference"]["reference"] for o in _outputs()[-1]] == ["DocumentReference/n1"]


def test_notes_of_other_visits_and_notes_in_error_are_not_linked(scheduled, capture):
    feed(scheduled, encounter(), capture=capture)
    feed(scheduled, note("other", encounter_id="e-other"), note("bad", status="entered-in-error"), capture=capture)
    assert _outputs() == []
    assert not Transition.objects.filter(transition="consult_note").exists()


def test_the_note_shows_on_the_referral_page(scheduled, capture, client, make_user):
    from apps.core.roles import Role

    feed(scheduled, encounter(), note(), capture=capture)
    referral = Referral.objects.get()
    user = make_user(Role.SCHEDULER, sites=[referral.site])
    client.force_login(user)
    page = client.get(f"/referrals/{referral.pk}/").content.decode()
    assert "Consult note linked to the referral" in page and "Cardiology consult note from the EHR" in page
