"""The wait list and earlier-slot offers: who is offered a freed slot first, the hold time,
decline and expiry to the next, accept rebooks (through the real ingestion path for the EHR's
Appointments and Slots; the EHR's answers to the outbox faked as in test_booking)."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from apps.core.errors import ConflictError
from apps.core.roles import Role
from apps.ehr.models import OutboxMessage
from apps.referrals.models import Referral, SlotOffer
from apps.referrals.selectors import SLOT_OFFERS_SQL
from apps.referrals.services.waitlist import (
    slot_offer_accept,
    slot_offer_decline,
    slot_offers_expire,
    waitlist_join,
    waitlist_leave,
)
from apps.referrals.workflow import State
from apps.workflow.models import Transition
from tests.plugins.core import UserFactory
from tests.plugins.referral_feed import appointment, feed, make_source, service_request

from .test_booking import people, schedule, slot

pytestmark = pytest.mark.django_db
NOW = "2026-03-10T08:00:00Z"
OPEN = SlotOffer.Status.OPEN


def booked(appt_id, sr_id, slot_id, start, *, status="booked", version="1") -> dict:
    return {**appointment(appt_id, sr_id=sr_id, status=status, version=version), "start": start,
            "slot": [{"reference": f"Slot/{slot_id}"}]}  # fmt: skip


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def world(capture):
    """Three scheduled referrals: routine (far, 20 Apr), urgent (near, 1 Apr), routine received
    earlier (2 Apr); a fourth patient holds the early slot s-early (11 Mar)."""
    with time_machine.travel("2026-03-01T08:00:00Z", tick=False):
        source, site = make_source()
        feed(source, *people(), schedule(), service_request("sr-old"), capture=capture)
    with time_machine.travel("2026-03-05T08:00:00Z", tick=False):
        feed(source, service_request("sr-far"), service_request("sr-urgent", priority="urgent"), capture=capture)
    with time_machine.travel(NOW, tick=False):
        feed(source, slot("s-early", "2026-03-11T09:00:00Z", status="busy"),
             booked("a-early", "sr-other", "s-early", "2026-03-11T09:00:00Z"),
             booked("a-far", "sr-far", "s-far", "2026-04-20T09:00:00Z"),
             booked("a-urgent", "sr-urgent", "s-u", "2026-04-01T09:00:00Z"),
             booked("a-old", "sr-old", "s-o", "2026-04-02T09:00:00Z"), capture=capture)  # fmt: skip
        scheduler = UserFactory(role=Role.SCHEDULER, sites=[site])
        refs = {r.service_request.fhir_id: r for r in Referral.objects.select_related("service_request")}
        assert all(r.state == State.SCHEDULED for r in refs.values())
        for name in ("sr-far", "sr-urgent", "sr-old"):
            waitlist_join(referral_id=refs[name].pk, by=scheduler)
    return source, scheduler, refs


def _free_the_early_slot(source, capture):
    """The EHR cancels the early appointment and frees its slot (both through ingestion)."""
    feed(source, booked("a-early", "sr-other", "s-early", "2026-03-11T09:00:00Z", status="cancelled", version="2"),
         slot("s-early", "2026-03-11T09:00:00Z", status="free", version="2"), capture=capture)  # fmt: skip


@time_machine.travel(NOW, tick=False)
def test_a_freed_slot_is_offered_by_priority_then_wait_then_distance_with_a_hold(world, capture):
    source, _, refs = world
    _free_the_early_slot(source, capture)
    [offer] = SlotOffer.objects.all()
    assert (offer.referral, offer.status, offer.slot_ref) == (refs["sr-urgent"], OPEN, "Slot/s-early")
    assert offer.expires_at - offer.offered_at == timedelta(hours=4)
    assert offer.days_sooner == 21.0
    assert Transition.objects.filter(item_id=refs["sr-urgent"].pk, transition="offer").exists()


@time_machine.travel(NOW, tick=False)
def test_leaving_the_wait_list_declines_a_waiting_offer_and_passes_the_slot_on(world, capture):
    source, scheduler, refs = world
    _free_the_early_slot(source, capture)
    first = SlotOffer.objects.get(status=OPEN)
    waitlist_leave(referral_id=first.referral_id, by=scheduler, reason="Patient prefers their date")
    assert SlotOffer.objects.get(pk=first.pk).status == SlotOffer.Status.DECLINED
    assert SlotOffer.objects.get(status=OPEN).referral == refs["sr-old"]  # the next in line
    assert Transition.objects.filter(item_id=first.referral_id, transition="offer_declined").exists()


def test_decline_and_expiry_go_to_the_next_in_line(world, capture):
    source, scheduler, refs = world
    with time_machine.travel(NOW, tick=False):
        _free_the_early_slot(source, capture)
        first = SlotOffer.objects.get(status=OPEN)
        slot_offer_decline(offer_id=first.pk, by=scheduler)
        second = SlotOffer.objects.get(status=OPEN)
        # Both routine: the one received earlier has waited longer.
        assert second.referral == refs["sr-old"]
    with time_machine.travel("2026-03-10T11:59:00Z", tick=False):
        assert slot_offers_expire() == 0  # still held
    with time_machine.travel("2026-03-10T12:00:01Z", tick=False):
        assert slot_offers_expire() == 1
        third = SlotOffer.objects.get(status=OPEN)
        assert third.referral == refs["sr-far"]
        assert SlotOffer.objects.get(pk=second.pk).status == SlotOffer.Status.EXPIRED
    with time_machine.travel("2026-03-10T16:00:01Z", tick=False):
        slot_offers_expire()
        assert not SlotOffer.objects.filter(status=OPEN).exists()  # everyone was asked once


@time_machine.travel(NOW, tick=False)
def test_accept_rebooks_into_the_earlier_slot_and_leaves_the_wait_list(world, capture):
    source, scheduler, _ = world
    _free_the_early_slot(source, capture)
    offer = SlotOffer.objects.get(status=OPEN)
    with capture(execute=False):
        slot_offer_accept(offer_id=offer.pk, by=scheduler)
    referral = Referral.objects.get(pk=offer.referral_id)
    assert (referral.state, referral.booking_slot_ref) == (State.BOOKING, "Slot/s-early")
    assert not referral.wait_list_entry.active
    assert SlotOffer.objects.get(pk=offer.pk).status == SlotOffer.Status.ACCEPTED
    message = OutboxMessage.objects.get(resource_type="Appointment", operation="create")
    assert message.changes["slot"] == [{"reference": "Slot/s-early"}]
    with pytest.raises(ConflictError):  # answered twice
        slot_offer_accept(offer_id=offer.pk, by=scheduler)
    with connection.cursor() as cursor:  # what the scorecard reads: offers accepted and days sooner
        cursor.execute(f"SELECT status, slot_start, current_start FROM {SLOT_OFFERS_SQL} o")  # noqa: S608
        [(status, slot_start, current_start)] = cursor.fetchall()
    assert status == "accepted" and str(slot_start) < str(current_start)


def test_an_expired_offer_cannot_be_accepted(world, capture):
    source, scheduler, _ = world
    with time_machine.travel(NOW, tick=False):
        _free_the_early_slot(source, capture)
        offer = SlotOffer.objects.get(status=OPEN)
    with time_machine.travel(timezone.datetime.fromisoformat("2026-03-10T12:00:01+00:00"), tick=False):
        with pytest.raises(ConflictError, match="expired"):
            slot_offer_accept(offer_id=offer.pk, by=scheduler)
        assert SlotOffer.objects.get(pk=offer.pk).status == SlotOffer.Status.EXPIRED


@time_machine.travel(NOW, tick=False)
def test_a_slot_later_than_everyones_appointment_is_offered_to_no_one(world, capture):
    source, *_ = world
    feed(source, slot("s-late", "2026-05-01T09:00:00Z"), capture=capture)
    assert not SlotOffer.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_only_a_referral_with_an_appointment_can_join(world, capture):
    source, scheduler, _ = world
    feed(source, service_request("sr-new"), capture=capture)
    new = Referral.objects.get(service_request__fhir_id="sr-new")
    with pytest.raises(ConflictError):
        waitlist_join(referral_id=new.pk, by=scheduler)


@time_machine.travel(NOW, tick=False)
def test_the_offers_page_lists_open_offers_at_my_sites_and_decline_passes_it_on(world, capture, client, other_site):
    source, scheduler, refs = world
    _free_the_early_slot(source, capture)
    offer = SlotOffer.objects.get(status=OPEN)
    client.force_login(scheduler)
    page = client.get("/referrals/offers/").content.decode()
    assert "Okafor, Amaka" in page and "11 Mar 2026, 05:00" in page and "21 days sooner" in page
    detail = client.get(f"/referrals/{offer.referral_id}/").content.decode()
    assert "An earlier slot is offered to this patient" in detail
    response = client.post(f"/referrals/offers/{offer.pk}/decline/")
    assert response.status_code == 302 and response["Location"] == "/referrals/offers/"
    assert SlotOffer.objects.get(status=OPEN).referral == refs["sr-old"]
    # Answered already: a message, never a 500 or a second decline.
    again = client.post(f"/referrals/offers/{offer.pk}/decline/")
    assert again.status_code == 302 and SlotOffer.objects.filter(status="declined").count() == 1
    client.force_login(UserFactory(role=Role.SCHEDULER, sites=[other_site]))
    assert "Okafor" not in client.get("/referrals/offers/").content.decode()
    assert client.post(f"/referrals/offers/{offer.pk}/decline/").status_code == 404


@time_machine.travel(NOW, tick=False)
def test_the_sites_schedulers_hear_that_an_offer_waits(world, capture, other_site):
    from apps.notifications.models import Notification

    source, scheduler, _ = world
    elsewhere = UserFactory(role=Role.SCHEDULER, sites=[other_site])
    _free_the_early_slot(source, capture)
    [note] = Notification.objects.filter(kind="waitlist_offer")
    assert (note.user, note.link) == (scheduler, "/referrals/offers/")
    assert note.title == "An earlier slot is offered to a waiting patient: call them"
    assert not Notification.objects.filter(user=elsewhere).exists()


def test_several_patients_are_offered_one_slot_and_the_first_to_accept_takes_it(world, capture, settings):
    from apps.notifications.models import Notification

    settings.REFERRAL_OFFER_PARALLEL = 2
    source, scheduler, refs = world
    with time_machine.travel(NOW, tick=False):
        _free_the_early_slot(source, capture)
        offers = {o.referral_id: o for o in SlotOffer.objects.filter(status=OPEN)}
        # The two best placed: urgent, then the routine one that has waited longer.
        assert set(offers) == {refs["sr-urgent"].pk, refs["sr-old"].pk}
        assert Notification.objects.get(kind="waitlist_offer").title == (
            "An earlier slot is offered to 2 waiting patients: call them"
        )
    with time_machine.travel("2026-03-10T09:00:00Z", tick=False):
        # One declines: the slot goes to the next in line, so two are still asked.
        slot_offer_decline(offer_id=offers[refs["sr-urgent"].pk].pk, by=scheduler)
        assert {o.referral_id for o in SlotOffer.objects.filter(status=OPEN)} == {refs["sr-old"].pk, refs["sr-far"].pk}
    with time_machine.travel("2026-03-10T10:00:00Z", tick=False):
        late = SlotOffer.objects.get(status=OPEN, referral=refs["sr-far"])
        with capture(execute=False):
            slot_offer_accept(offer_id=late.pk, by=scheduler)  # the later offer, accepted first
        other = SlotOffer.objects.get(referral=refs["sr-old"])
        assert other.status == SlotOffer.Status.WITHDRAWN
        withdrawn = Transition.objects.get(item_id=refs["sr-old"].pk, transition="offer_withdrawn")
        assert withdrawn.reason == (
            "Another patient accepted the slot of 11 Mar 2026, 05:00 first: the offer is withdrawn and this "
            "patient keeps their appointment."
        )
        assert Referral.objects.get(pk=refs["sr-old"].pk).state == State.SCHEDULED
        with pytest.raises(ConflictError, match="withdrawn"):
            slot_offer_accept(offer_id=other.pk, by=scheduler)
        assert OutboxMessage.objects.filter(resource_type="Appointment", operation="create").count() == 1
    with time_machine.travel("2026-03-10T20:00:00Z", tick=False):
        assert slot_offers_expire() == 0  # nothing open is left to expire or pass on
        assert not SlotOffer.objects.filter(status=OPEN).exists()
