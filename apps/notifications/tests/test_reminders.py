"""Appointment reminders: planned at each configured offset, once per visit, offset and channel;
sent by email and through the Twilio adapter to a local stand-in; retried, never twice; opt-outs
and missing addresses honoured; each outcome on the item's timeline; nothing clinical or
identifying in what the patient receives."""

from datetime import timedelta

import pytest
import time_machine

from apps.notifications.models import ClinicContact, PatientMessage, PatientOptOut
from apps.notifications.reminders import patient_message_relay, patient_message_send, patient_reminders_plan
from apps.workflow.models import Transition
from tests.plugins.core import SiteFactory
from tests.plugins.intake import intake_make
from tests.plugins.patient_messages import EMAIL, MOBILE, links, reachable

from .test_sms import FakeTwilio, twilio  # noqa: F401 - the Twilio stand-in fixture

pytestmark = pytest.mark.django_db
Status = PatientMessage.Status
BOOKED_AT = "2026-03-02T12:00:00Z"


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def intake(settings, twilio):  # noqa: F811
    settings.PATIENT_REMINDER_OFFSETS_HOURS = [72, 24]
    site = SiteFactory(code="north", name="North Clinic", timezone="America/New_York")
    ClinicContact.objects.create(site=site, name="North Clinic", phone="+1 555 010 0200")
    with time_machine.travel(BOOKED_AT, tick=False):
        intake = intake_make(site, days=5, hour=10)  # Saturday 7 March 2026, 10:00 in New York
    reachable(intake)
    return intake


def _timeline(item, name):
    return list(
        Transition.objects.filter(workflow=item.WORKFLOW, item_id=item.pk, transition=name).values_list(
            "reason", flat=True
        )
    )


def test_reminders_go_at_each_offset_once_per_channel(intake, capture, mailoutbox, twilio):  # noqa: F811
    start = intake.visit_start
    for _ in range(2):
        twilio.answers.append((201, {"sid": "SM" + "b" * 32, "status": "queued"}))
    with time_machine.travel(start - timedelta(hours=73), tick=False):
        assert patient_reminders_plan() == 0  # too early for the first one
    with time_machine.travel(start - timedelta(hours=71), tick=False):
        with capture(execute=True):
            assert patient_reminders_plan() == 2
        assert patient_reminders_plan() == 0  # the sweep again: nothing new
        assert patient_message_relay() == 0
    with time_machine.travel(start - timedelta(hours=30), tick=False):
        assert patient_reminders_plan() == 0
    with time_machine.travel(start - timedelta(hours=23), tick=False), capture(execute=True):
        assert patient_reminders_plan() == 2
        assert patient_reminders_plan() == 0
    rows = list(PatientMessage.objects.order_by("id").values_list("offset_hours", "channel", "status"))
    assert rows == [(72, "email", "sent"), (72, "sms", "sent"), (24, "email", "sent"), (24, "sms", "sent")]
    assert [m.to for m in mailoutbox] == [[EMAIL], [EMAIL]]
    assert [s["form"]["To"] for s in twilio.seen] == [[MOBILE], [MOBILE]]  # the mobile, not the home phone
    email, text = mailoutbox[0], twilio.seen[0]["form"]["Body"][0]
    for received in (email.subject + email.body, text):
        assert "North Clinic" in received and "Saturday 7 March 2026 at 10:00" in received
        assert "call +1 555 010 0200" in received
        # Nothing that names the patient or says anything clinical.
        for secret in ("Amaka", "Family", "MRN", intake.patient_ref, "Routine", "Questionnaire completed"):
            assert secret not in received
    assert set(links(email.body)) == {"confirm", "cancel", "form", "stop-email"}
    assert set(links(text)) == {"confirm", "cancel", "form", "stop-sms"}
    sent = _timeline(intake, "reminder_sent")
    assert sent == [
        f"Reminder sent by {how} ({hours} hours before the visit)."
        for hours in (72, 24)
        for how in ("email", "text message")
    ]


def test_a_visit_booked_late_gets_only_the_offset_that_is_due(intake, capture, mailoutbox, twilio):  # noqa: F811
    twilio.answers.append((201, {"sid": "SM" + "c" * 32}))
    with time_machine.travel(intake.visit_start - timedelta(hours=20), tick=False), capture(execute=True):
        assert patient_reminders_plan() == 2
    assert set(PatientMessage.objects.values_list("offset_hours", flat=True)) == {24}


def test_a_failed_text_is_retried_after_its_backoff_and_sent_once(intake, capture, mailoutbox, twilio):  # noqa: F811
    twilio.answers += [(503, {"code": 20503, "message": "busy", "status": 503}), (201, {"sid": "SM" + "d" * 32})]
    at = intake.visit_start - timedelta(hours=71)
    with time_machine.travel(at, tick=False), capture(execute=True):
        patient_reminders_plan()
    text = PatientMessage.objects.get(channel="sms")
    assert (text.status, text.attempts) == (Status.FAILED, 1) and "HTTP 503" in text.last_error
    assert MOBILE not in text.last_error
    with time_machine.travel(at + timedelta(seconds=5), tick=False):
        assert patient_message_relay() == 0  # still backing off
    with time_machine.travel(at + timedelta(hours=2), tick=False), capture(execute=True):
        assert patient_message_relay() == 1
        assert patient_message_send(message_id=text.pk) == Status.SENT  # a second run sends nothing
        assert patient_message_relay() == 0
    text.refresh_from_db()
    assert (text.status, text.attempts, text.provider_id) == (Status.SENT, 2, "SM" + "d" * 32)
    assert len(twilio.seen) == 2 and twilio.seen[0]["form"]["Body"] == twilio.seen[1]["form"]["Body"]
    assert len(mailoutbox) == 1


def test_a_refused_number_fails_for_good_and_the_timeline_says_so(intake, capture, mailoutbox, twilio):  # noqa: F811
    twilio.answers.append((400, {"code": 21211, "message": "invalid To", "status": 400}))
    with time_machine.travel(intake.visit_start - timedelta(hours=71), tick=False), capture(execute=True):
        patient_reminders_plan()
    assert PatientMessage.objects.get(channel="sms").status == Status.DEAD
    [failed] = _timeline(intake, "reminder_failed")
    assert failed.startswith("Reminder by text message failed: Twilio refused the message (HTTP 400")
    assert "Call the patient" in failed


def test_opt_outs_are_honoured_when_planned_and_when_sent(intake, capture, mailoutbox, twilio):  # noqa: F811
    PatientOptOut.objects.create(source_id=intake.source_id, patient_ref=intake.patient_ref, channel="sms")
    with time_machine.travel(intake.visit_start - timedelta(hours=71), tick=False):
        with capture(execute=False) as queued:
            assert patient_reminders_plan() == 1
        # The patient opts out of email too before the queued email goes out.
        PatientOptOut.objects.create(source_id=intake.source_id, patient_ref=intake.patient_ref, channel="email")
        for callback in queued:
            callback()
    assert dict(PatientMessage.objects.values_list("channel", "status")) == {
        "sms": Status.OPTED_OUT, "email": Status.OPTED_OUT,
    }  # fmt: skip
    assert mailoutbox == [] and twilio.seen == []
    assert sorted(_timeline(intake, "reminder_not_sent")) == [
        "Reminder by email not sent: the patient opted out.",
        "Reminder by text message not sent: the patient opted out.",
    ]


def test_no_address_in_the_ehr_is_recorded_not_sent(intake, capture, mailoutbox, twilio):  # noqa: F811
    reachable(intake, email=False, sms=False)
    with time_machine.travel(intake.visit_start - timedelta(hours=71), tick=False), capture(execute=True):
        assert patient_reminders_plan() == 0
    assert set(PatientMessage.objects.values_list("status", flat=True)) == {Status.NO_ADDRESS}
    assert len(_timeline(intake, "reminder_not_sent")) == 2


def test_closed_or_walk_in_visits_get_no_reminder(intake, capture, twilio):  # noqa: F811
    type(intake).objects.filter(pk=intake.pk).update(state="cancelled")
    with time_machine.travel(intake.visit_start - timedelta(hours=23), tick=False):
        assert patient_reminders_plan() == 0
    assert not PatientMessage.objects.exists()


def test_integration_admins_put_a_failed_reminder_back_in_line(intake, capture, mailoutbox, twilio):  # noqa: F811
    from django.core.exceptions import PermissionDenied

    from apps.core.roles import Role
    from apps.notifications.reminders import patient_message_retry
    from tests.plugins.core import UserFactory

    twilio.answers += [(400, {"code": 21211, "message": "invalid", "status": 400}), (201, {"sid": "SM" + "e" * 32})]
    with time_machine.travel(intake.visit_start - timedelta(hours=71), tick=False), capture(execute=True):
        patient_reminders_plan()
    text = PatientMessage.objects.get(channel="sms")
    assert text.status == Status.DEAD
    with pytest.raises(PermissionDenied):
        patient_message_retry(message_ids=[text.pk], by=UserFactory(role=Role.SCHEDULER))
    with capture(execute=True):
        assert patient_message_retry(message_ids=[text.pk], by=UserFactory(role=Role.INTEGRATION_ADMIN)) == 1
    text.refresh_from_db()
    assert text.status == Status.SENT and len(twilio.seen) == 2
    assert len(_timeline(intake, "reminder_sent")) == 2  # the email, then the text on its second try


def test_reminder_email_over_real_smtp_after_a_refused_connection_once_and_without_patient_data(
    intake,
    capture,
    settings,
    tmp_path,
    twilio,  # noqa: F811
):
    from tests.plugins.smtp import free_port, received, smtp_server

    twilio.answers.append((201, {"sid": "SM" + "f" * 32}))
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_TIMEOUT, settings.EMAIL_PORT = "127.0.0.1", 5, free_port()  # nobody listens
    at = intake.visit_start - timedelta(hours=71)
    with time_machine.travel(at, tick=False), capture(execute=True):
        patient_reminders_plan()
    email = PatientMessage.objects.get(channel="email")
    assert email.status == Status.FAILED and email.last_error.startswith("the email could not be sent (")
    assert EMAIL not in email.last_error
    with smtp_server(tmp_path / "mail") as port:
        settings.EMAIL_PORT = port
        with time_machine.travel(at + timedelta(hours=2), tick=False), capture(execute=True):
            assert patient_message_relay() == 1
            assert patient_message_send(message_id=email.pk) == Status.SENT
        [raw] = received(tmp_path / "mail")
    text = raw.decode()
    assert f"To: {EMAIL}" in text and f"Message-ID: <patient-message-{email.pk}@" in text
    assert "North Clinic: a reminder of your visit on Saturday 7 March 2026 at 10:00." in text
    for secret in ("Amaka", "Family", "MRN", intake.patient_ref, "Routine"):
        assert secret not in text


def test_an_appointment_with_an_intake_and_a_referral_is_reminded_of_once(intake, capture, mailoutbox, monkeypatch):
    from apps.notifications import reminders
    from apps.notifications.visits import Visit, VisitProvider, visit_providers

    twin = Visit(workflow="referral", item_id=999, site_id=intake.site_id, source_id=intake.source_id,
                 patient_ref=intake.patient_ref, start=intake.visit_start,
                 appointment_ref=f"Appointment/{intake.appointment.fhir_id}")  # fmt: skip
    referrals = VisitProvider(workflow="referral", upcoming=lambda a, b: [twin], get=lambda i: twin,
                              confirm=lambda i: twin, cancel=lambda i: twin)  # fmt: skip
    intakes = [p for p in visit_providers() if p.workflow == "intake"]
    monkeypatch.setattr(reminders, "visit_providers", lambda: [referrals, *intakes])
    reachable(intake, sms=False)
    with time_machine.travel(intake.visit_start - timedelta(hours=23), tick=False), capture(execute=True):
        patient_reminders_plan()
    assert set(PatientMessage.objects.values_list("workflow", "channel", "status")) == {
        ("intake", "email", "sent"), ("intake", "sms", "no_address"),
    }  # fmt: skip
    assert len(mailoutbox) == 1 and "form" in links(mailoutbox[0].body)
