"""The pages a reminder's links open, without signing in: 404 for a link that is not ours, 410
for one expired or used (with the clinic's number); confirm and cancel change the item (cancel
tells the EHR through the outbox and, once it answered, frees the slot for the wait list); the
pre-visit form sends a QuestionnaireResponse through the outbox and ticks the checklist; the stop
links and the patient page's boxes opt out. Pages show the first name and the date, nothing else."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from apps.core.roles import Role
from apps.ehr.models import OutboxMessage
from apps.intake.models import Intake
from apps.notifications.links import patient_link_make
from apps.notifications.models import ClinicContact, PatientLink, PatientMessage, PatientOptOut
from apps.notifications.patient_actions import patient_cancel_outbox_result
from apps.notifications.reminders import patient_reminders_plan
from apps.referrals.models import Referral, SlotOffer
from apps.referrals.services.waitlist import waitlist_join
from apps.referrals.workflow import State as ReferralState
from apps.workflow.models import Transition
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.intake import intake_make
from tests.plugins.patient_messages import links, reachable
from tests.plugins.referral_feed import appointment, feed, make_source, service_request

pytestmark = pytest.mark.django_db
PHONE = "+1 555 010 0200"


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def _reminded(item, capture, mailoutbox) -> dict[str, str]:
    """Plan the item's reminder now and return the links of the email it sent."""
    with capture(execute=True):
        patient_reminders_plan()
    [email] = [m for m in mailoutbox if m.to]
    return links(email.body)


@pytest.fixture
def intake(settings):
    settings.SMS_BACKEND = "apps.notifications.sms.ConsoleSmsBackend"
    site = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    ClinicContact.objects.create(site=site, name="North Clinic", phone=PHONE)
    intake = intake_make(site, days=2, hour=10)
    reachable(intake, sms=False)
    return intake


def _timeline(item):
    return list(
        Transition.objects.filter(workflow=item.WORKFLOW, item_id=item.pk).values_list("transition", "source", "reason")
    )


def test_links_that_are_not_ours_are_404_and_spent_or_expired_ones_410_with_the_number(intake, client):
    assert client.get("/p/confirm/not-a-token/").status_code == 404
    cancel = patient_link_make(purpose="cancel", workflow="intake", item_id=intake.pk, valid_for=timedelta(days=1))
    assert client.get(f"/p/confirm/{cancel}/").status_code == 404  # a cancel link does not confirm
    assert client.get(f"/p/confirm/{cancel[:-3]}abc/").status_code == 404
    confirm = patient_link_make(purpose="confirm", workflow="intake", item_id=intake.pk, valid_for=timedelta(days=1))
    PatientLink.objects.filter(purpose="confirm").update(expires_at=timezone.now() - timedelta(seconds=1))
    gone = client.get(f"/p/confirm/{confirm}/")
    assert gone.status_code == 410
    assert "can no longer be used" in gone.text and PHONE in gone.text
    assert client.post(f"/p/confirm/{confirm}/").status_code == 410
    assert Intake.objects.get(pk=intake.pk).state == "pending"


def test_confirm_from_the_email_confirms_once_and_the_page_shows_first_name_and_date(intake, capture, mailoutbox):
    found = _reminded(intake, capture, mailoutbox)
    patient = Client()
    page = patient.get(found["confirm"])
    assert page.status_code == 200
    assert "Hello Amaka" in page.text and PHONE in page.text and "North Clinic" in page.text
    when = timezone.localtime(intake.visit_start, intake.site.tzinfo).strftime("%A %-d %B %Y at %H:%M")
    assert when in page.text
    for secret in ("Family", "MRN", intake.patient_ref, "1961"):
        assert secret not in page.text
    posted = patient.post(found["confirm"])
    assert (posted.status_code, posted["Location"]) == (302, found["confirm"])
    thanks = patient.get(found["confirm"])
    assert thanks.status_code == 200 and "Your visit is confirmed" in thanks.text
    intake.refresh_from_db()
    assert intake.state == "outreach"
    assert ("contact", "patient", "The patient confirmed the visit online (reminder link)") in _timeline(intake)
    assert Client().get(found["confirm"]).status_code == 410  # spent: another browser is told so
    assert Client().post(found["confirm"]).status_code == 410


def test_cancel_cancels_the_intake_tells_the_ehr_and_closes_the_other_links(intake, capture, mailoutbox):
    found = _reminded(intake, capture, mailoutbox)
    patient = Client()
    assert patient.post(found["cancel"]).status_code == 302
    assert "Your visit is cancelled" in patient.get(found["cancel"]).text
    intake.refresh_from_db()
    assert intake.state == "cancelled"
    message = OutboxMessage.objects.get(resource_type="Appointment")
    assert (message.resource_id, message.changes["status"]) == (intake.appointment.fhir_id, "cancelled")
    assert patient.get(found["confirm"]).status_code == 410  # the visit is gone: nothing to confirm
    assert patient.get(found["form"]).status_code == 410


def test_the_questionnaire_checks_answers_refuses_hostile_input_then_goes_to_the_ehr_and_ticks(
    intake, capture, mailoutbox
):
    url = _reminded(intake, capture, mailoutbox)["form"]
    patient = Client()
    page = patient.get(url)
    assert page.status_code == 200 and "Have your medicines changed since your last visit?" in page.text
    missing = patient.post(url, {"q-reason": "Knee pain"})
    assert missing.status_code == 400 and "Please answer this question." in missing.text
    assert "Knee pain" in missing.text  # what was typed is kept
    assert patient.post(url, {"q-reason": "x" * 100_000, "q-medications-changed": "no"}).status_code == 400
    assert patient.post(url, {"q-reason": "a\x00b", "q-medications-changed": "no"}).status_code == 400
    assert patient.post(url, {f"f{n}": "1" for n in range(500)}).status_code == 400
    wrong = {"q-reason": "Knee", "q-medications-changed": "maybe", "q-interpreter": "0"}
    assert patient.post(url, wrong).status_code == 400
    assert not OutboxMessage.objects.exists() and PatientLink.objects.get(purpose="questionnaire").used_at is None
    answers = {"q-reason": "Knee pain when climbing stairs", "q-medications-changed": "yes",
               "q-medications": "Ibuprofen", "q-interpreter": "1", "q-language": "Igbo"}  # fmt: skip
    with capture(execute=False):
        done = patient.post(url, answers)
    assert done.status_code == 302 and "Your answers were sent" in patient.get(url).text
    message = OutboxMessage.objects.get(resource_type="QuestionnaireResponse")
    response = message.changes
    assert (message.operation, response["status"], response["subject"]) == (
        "create", "completed", {"reference": intake.patient_ref},
    )  # fmt: skip
    assert response["questionnaire"] == "http://clinops.example.org/fhir/Questionnaire/pre-visit|1"
    by_id = {item["linkId"]: item["answer"][0] for item in response["item"]}
    assert by_id["medications-changed"] == {"valueBoolean": True}
    assert by_id["interpreter"]["valueCoding"]["code"] == "Y" and by_id["language"] == {"valueString": "Igbo"}
    check = intake.checks.get(key="questionnaire")
    assert check.done_at is not None and check.done_source == "patient"
    assert Client().post(url, answers).status_code == 410  # sent once
    assert patient.post(url, answers).status_code == 200  # the same phone again: the thanks page, nothing sent
    assert OutboxMessage.objects.filter(resource_type="QuestionnaireResponse").count() == 1


@pytest.fixture
def fhir_slots():
    """A stand-in for the EHR's FHIR server that answers ``GET Slot/<id>`` (after a cancellation)."""
    slots: dict[str, dict] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            slot = slots.get(self.path.rsplit("/", 1)[-1])
            body = json.dumps(slot or {"resourceType": "OperationOutcome"}).encode()
            self.send_response(200 if slot else 404)
            self.send_header("Content-Type", "application/fhir+json")
            if slot:
                self.send_header("ETag", f'W/"{slot["meta"]["versionId"]}"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/fhir", slots
    server.shutdown()


CARDIOLOGY = {"coding": [{"system": "http://snomed.info/sct", "code": "394579002", "display": "Cardiology"}]}


def _slot(sid, start, status):
    return {"resourceType": "Slot", "id": sid, "meta": {"versionId": "2" if status == "free" else "1"},
            "schedule": {"reference": "Schedule/sch1"}, "status": status, "start": start,
            "end": start.replace(":00:00Z", ":30:00Z")}  # fmt: skip


def _booked(appt_id, sr_id, slot_id, start, *, status="booked", version="1"):
    return {**appointment(appt_id, sr_id=sr_id, status=status, version=version), "start": start,
            "end": start.replace(":00:00Z", ":30:00Z"), "slot": [{"reference": f"Slot/{slot_id}"}]}  # fmt: skip


@time_machine.travel("2026-03-10T08:00:00Z", tick=False)
def test_a_referral_confirmed_then_another_cancelled_frees_its_slot_for_the_wait_list(
    capture, mailoutbox, settings, fhir_slots, client
):
    settings.SMS_BACKEND = "apps.notifications.sms.ConsoleSmsBackend"
    base, slots = fhir_slots
    source, site = make_source()
    source.base_url = base
    source.save()
    schedule = {"resourceType": "Schedule", "id": "sch1", "meta": {"versionId": "1"}, "active": True,
                "specialty": [CARDIOLOGY], "actor": [{"reference": "Location/loc-north"}]}  # fmt: skip
    people = [{"resourceType": "Patient", "id": pid, "name": [{"family": "Okafor", "given": [given]}],
               "telecom": [{"system": "email", "value": f"{pid}@example.org"}]}
              for pid, given in (("p1", "Amaka"), ("p2", "Bola"), ("p3", "Chidi"))]  # fmt: skip
    feed(source, *people, schedule, service_request("sr-soon", patient="p1"), service_request("sr-far", patient="p2"),
         service_request("sr-next", patient="p3"), _slot("s-soon", "2026-03-11T09:00:00Z", "busy"),
         _booked("a-soon", "sr-soon", "s-soon", "2026-03-11T09:00:00Z"),
         _booked("a-next", "sr-next", "s-next", "2026-03-12T09:00:00Z"),
         _booked("a-far", "sr-far", "s-far", "2026-04-20T09:00:00Z"), capture=capture)  # fmt: skip
    for sr, pid in (("sr-soon", "p1"), ("sr-next", "p3")):
        Referral.objects.filter(service_request__fhir_id=sr).update(patient_ref=f"Patient/{pid}")
    refs = {r.service_request.fhir_id: r for r in Referral.objects.select_related("service_request")}
    assert {r.state for r in refs.values()} == {ReferralState.SCHEDULED}
    scheduler = UserFactory(role=Role.SCHEDULER, sites=[site])
    waitlist_join(referral_id=refs["sr-far"].pk, by=scheduler)
    with capture(execute=True):
        assert patient_reminders_plan() == 2  # the two appointments within 72 hours, by email
    by_patient = {m.to[0]: links(m.body) for m in mailoutbox}
    assert set(by_patient["p1@example.org"]) == {"confirm", "cancel", "stop-email"}  # no form for a referral

    # Chidi confirms.
    assert Client().post(by_patient["p3@example.org"]["confirm"]).status_code == 302
    next_one = Referral.objects.get(pk=refs["sr-next"].pk)
    assert (next_one.state, next_one.confirmed_at is not None) == (ReferralState.CONFIRMED, True)
    # Amaka cancels: back to scheduling, the EHR is asked to cancel the appointment.
    assert Client().post(by_patient["p1@example.org"]["cancel"]).status_code == 302
    soon = Referral.objects.get(pk=refs["sr-soon"].pk)
    assert soon.state == ReferralState.SCHEDULING
    assert ("cancel_appointment", "patient", "The patient cancelled online (reminder link)") in _timeline(soon)
    message = OutboxMessage.objects.get(resource_type="Appointment", resource_id="a-soon")
    assert message.changes["status"] == "cancelled"
    assert not SlotOffer.objects.exists()
    # The EHR took it and freed the slot: its answer and the slot come in, and the wait list is offered it.
    slots["s-soon"] = _slot("s-soon", "2026-03-11T09:00:00Z", "free")
    OutboxMessage.objects.filter(pk=message.pk).update(status=OutboxMessage.Status.SENT, response_status=200)
    message.refresh_from_db()
    with capture(execute=True):
        patient_cancel_outbox_result(message, _booked("a-soon", "sr-soon", "s-soon", "2026-03-11T09:00:00Z",
                                                      status="cancelled", version="2"))  # fmt: skip
    offer = SlotOffer.objects.get()
    assert (offer.referral_id, offer.slot_ref, offer.status) == (refs["sr-far"].pk, "Slot/s-soon", "open")


def test_stop_links_opt_out_and_staff_set_it_on_the_patient_page(intake, capture, mailoutbox, client, other_site):
    url = _reminded(intake, capture, mailoutbox)["stop-email"]
    patient = Client()
    assert "Stop reminder emails" in patient.get(url).text
    assert patient.post(url).status_code == 302
    assert "You will not get reminder emails" in patient.get(url).text
    assert set(PatientOptOut.objects.values_list("channel", "by")) == {("email", None)}
    assert ("patient_opted_out", "patient", "The patient asked for no more reminder emails") in _timeline(intake)
    # The MA sees it on the patient page and turns emails back on, texts off.
    from apps.ehr.models import Patient

    record = Patient.objects.get(fhir_id=intake.patient_ref.partition("/")[2])
    ma = UserFactory(role=Role.MEDICAL_ASSISTANT, sites=[intake.site])
    client.force_login(ma)
    page = client.get(f"/patients/{record.pk}/")
    assert "Appointment reminders" in page.text and "Opted out" not in page.text
    assert 'value="email">' in page.text  # unticked: opted out
    saved = client.post(f"/notifications/patients/{record.pk}/opt-out/", {"channel": ["email"]})
    assert saved.status_code == 302 and saved["Location"] == f"/patients/{record.pk}/"
    assert set(PatientOptOut.objects.values_list("channel", "by")) == {("sms", ma.pk)}
    stranger = UserFactory(role=Role.MEDICAL_ASSISTANT, sites=[other_site])
    client.force_login(stranger)
    assert client.post(f"/notifications/patients/{record.pk}/opt-out/", {"channel": []}).status_code == 404
    assert PatientMessage.objects.filter(channel="email").count() == 1
