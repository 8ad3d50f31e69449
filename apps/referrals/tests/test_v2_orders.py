"""Referral orders sent as HL7 v2 (ORM O01, OML O21) become referrals as FHIR ServiceRequests do."""

import pytest
from django.test import override_settings

from apps.ehr.models import Hl7Message, InboxMessage
from apps.ehr.services.v2_inbox import hl7_receive
from apps.referrals.models import Referral
from tests.plugins.referral_feed import make_source

pytestmark = pytest.mark.django_db


def orm(control_id: str, control: str = "NW", code: str = "394579002^Cardiology^SCT") -> bytes:
    segments = [
        f"MSH|^~\\&|EPIC|HOSP|CLINOPS|CLINOPS|20260301100000+0000||ORM^O01^ORM_O01|{control_id}|P|2.3",
        "PID|1||MRN1001^^^HOSP^MR||Rivera^Ana||19800214|F",
        f"ORC|{control}|ORD7001^EPIC|||||^^^^^R||20260301095500+0000|||3333^Nguyen^Thao^^^Dr.",
        f"OBR|1|ORD7001^EPIC||{code}|R" + "|" * 26 + "R07.9^Chest pain, unspecified^I10",
    ]
    return "\r".join(segments).encode() + b"\r"


def send(source, data, capture):
    with capture(execute=True):
        receipt = hl7_receive(source=source, raw=data, channel=Hl7Message.Channel.HTTP)
    assert receipt.ack_code == "AA", receipt.ack
    return InboxMessage.objects.filter(envelope__hl7_message__id=receipt.message_id)


@override_settings(EHR_V2_REFERRAL_CODES=["394579002"])
def test_a_v2_referral_order_becomes_a_routed_referral(django_capture_on_commit_callbacks):
    source, site = make_source()
    messages = send(source, orm("ORM1"), django_capture_on_commit_callbacks)
    assert {m.status for m in messages} == {"processed"}, [m.last_error for m in messages]
    referral = Referral.objects.get()
    assert (referral.site, referral.service_request.fhir_id) == (site, "ORD7001")
    assert referral.canonical_specialty == "cardiology" and referral.reason == "Chest pain, unspecified"


def test_an_order_that_is_not_a_referral_makes_none(django_capture_on_commit_callbacks):
    source, _ = make_source()
    send(source, orm("ORM1", code="24323-8^Comprehensive metabolic panel^LN"), django_capture_on_commit_callbacks)
    assert not Referral.objects.exists()


@override_settings(EHR_V2_REFERRAL_CODES=["394579002"])
def test_a_v2_cancellation_cancels_the_referral(django_capture_on_commit_callbacks):
    source, _ = make_source()
    send(source, orm("ORM1"), django_capture_on_commit_callbacks)
    send(
        source,
        orm("ORM2", control="CA").replace(b"20260301100000", b"20260302100000"),
        django_capture_on_commit_callbacks,
    )
    assert Referral.objects.get().state == "cancelled"


@override_settings(EHR_V2_REFERRAL_CODES=["394579002"])
def test_a_v2_booking_of_the_referral_schedules_it(django_capture_on_commit_callbacks):
    source, _ = make_source()
    send(source, orm("ORM1"), django_capture_on_commit_callbacks)
    Referral.objects.update(state="scheduling")  # triaged and accepted meanwhile
    siu = [
        "MSH|^~\\&|EPIC|HOSP|CLINOPS|CLINOPS|20260305100000+0000||SIU^S12^SIU_S12|SIU1|P|2.5.1",
        "SCH|PL1^EPIC|APT77^EPIC|||||ROUTINE^Routine^HL70276||30|MIN" + "|" * 15 + "Booked|ORD7001^EPIC",
        "PID|1||MRN1001^^^HOSP^MR||Rivera^Ana||19800214|F",
        "AIS|1|A|CARD^Cardiology visit|20260320140000+0000|||30|MIN",
    ]
    send(source, "\r".join(siu).encode() + b"\r", django_capture_on_commit_callbacks)
    referral = Referral.objects.get()
    assert (referral.state, referral.appointment_ref) == ("scheduled", "Appointment/APT77")
