"""The referral transition table (no database)."""

import pytest
from django_fsm import TransitionNotAllowed, can_proceed

from apps.referrals.models import Referral
from apps.referrals.workflow import CLOSED, OPEN, TASK_STATUS, State

S = State
# transition → the states it may fire from → where it goes
TABLE = {
    "triage": ({S.RECEIVED}, S.TRIAGE),
    "accept": ({S.TRIAGE}, S.ACCEPTED),
    "request_auth": ({S.ACCEPTED}, S.PENDING_AUTH),
    "authorize": ({S.PENDING_AUTH}, S.SCHEDULING),
    "start_scheduling": ({S.ACCEPTED}, S.SCHEDULING),
    "request_info": ({S.RECEIVED, S.TRIAGE, S.ACCEPTED}, S.NEEDS_INFO),
    "receive_info": ({S.NEEDS_INFO}, S.TRIAGE),
    "decline": ({S.RECEIVED, S.TRIAGE, S.NEEDS_INFO}, S.DECLINED),
    "schedule": (
        {S.RECEIVED, S.TRIAGE, S.ACCEPTED, S.PENDING_AUTH, S.SCHEDULING, S.BOOKING, S.NEEDS_INFO},
        S.SCHEDULED,
    ),
    "unschedule": ({S.SCHEDULED, S.CONFIRMED}, S.SCHEDULING),
    "complete": ({S.SCHEDULED, S.CONFIRMED}, S.COMPLETED),
    # Booking from clinops (issue 15).
    "book": ({S.SCHEDULING}, S.BOOKING),
    "rebook": ({S.SCHEDULED, S.CONFIRMED}, S.BOOKING),
    "booking_refused": ({S.BOOKING}, S.SCHEDULING),
    "rebooking_refused": ({S.BOOKING}, S.SCHEDULED),
    "cancel_appointment": ({S.SCHEDULED, S.CONFIRMED}, S.SCHEDULING),
    "confirm": ({S.SCHEDULED}, S.CONFIRMED),
    "cancel": (set(OPEN), S.CANCELLED),
    "abandon": ({S.ACCEPTED, S.PENDING_AUTH, S.SCHEDULING}, S.ABANDONED),
    "merge": ({S.RECEIVED, S.TRIAGE, S.ACCEPTED, S.PENDING_AUTH, S.SCHEDULING, S.NEEDS_INFO}, S.CANCELLED),
}
CASES = [(name, state) for name in TABLE for state in State]


@pytest.mark.parametrize(("name", "state"), CASES, ids=[f"{n}-from-{s.value}" for n, s in CASES])
def test_transition_table(name, state):
    allowed, target = TABLE[name]
    referral = Referral(state=state)
    method = getattr(referral, name)
    assert can_proceed(method) == (state in allowed)
    if state in allowed:
        method()
        assert referral.state == target
    else:
        with pytest.raises(TransitionNotAllowed):
            method()


def test_every_transition_is_in_the_table():
    names = {t.name for t in Referral._meta.get_field("state").get_all_transitions(Referral)}
    assert names == set(TABLE)


def test_closed_states_have_no_way_out():
    for state in CLOSED:
        assert not list(Referral(state=state).get_available_state_transitions())


def test_every_state_has_a_task_status_for_the_referrer():
    assert set(TASK_STATUS) == set(State)
    fhir_task_statuses = {
        "received",
        "accepted",
        "rejected",
        "in-progress",
        "completed",
        "cancelled",
        "on-hold",
        "failed",
    }
    assert {status for status, _, _ in TASK_STATUS.values()} <= fhir_task_statuses


def test_state_cannot_be_assigned_directly():
    referral = Referral(state=State.TRIAGE)
    with pytest.raises(AttributeError):
        referral.state = State.COMPLETED
