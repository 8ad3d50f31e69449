"""The transition table, without the database."""

import pytest
from django_fsm import can_proceed

from apps.results.models import ResultItem
from apps.results.workflow import FollowUp, State


def item(state: str, follow_up: str = "") -> ResultItem:
    return ResultItem(state=state, follow_up=follow_up)


def allowed(state: str, follow_up: str = "") -> set[str]:
    return {t.name for t in item(state, follow_up).get_available_state_transitions()}


@pytest.mark.parametrize(
    ("state", "follow_up", "expected"),
    [
        (State.NEW, "", {"review", "escalate", "reopen", "void"}),
        (State.ESCALATED, "", {"review", "reopen", "void"}),
        (State.REVIEWED, FollowUp.NONE, {"close", "reopen", "void"}),
        (State.REVIEWED, FollowUp.NOTIFY_ONLY, {"notify", "reopen", "void"}),
        (State.REVIEWED, FollowUp.APPOINTMENT, {"notify", "reopen", "void"}),
        (State.PATIENT_NOTIFIED, FollowUp.NOTIFY_ONLY, {"close", "reopen", "void"}),
        (State.PATIENT_NOTIFIED, FollowUp.REPEAT_TEST, {"schedule_follow_up", "reopen", "void"}),
        (State.FOLLOW_UP_SCHEDULED, FollowUp.APPOINTMENT, {"close", "reopen", "void"}),
        (State.CLOSED, FollowUp.NONE, {"reopen", "void"}),
        (State.VOIDED, "", set()),
    ],
)
def test_transition_table(state, follow_up, expected):
    assert allowed(state, follow_up) == expected


def test_review_records_the_decision_and_void_the_reason():
    result = item(State.NEW)
    result.review(follow_up=FollowUp.REPEAT_TEST, note="Repeat in 2 weeks")
    assert (result.state, result.follow_up, result.follow_up_note) == (
        State.REVIEWED,
        "repeat_test",
        "Repeat in 2 weeks",
    )
    result.void(void_reason="entered in error")
    assert (result.state, result.void_reason) == (State.VOIDED, "entered in error")


def test_reopen_clears_the_previous_decision():
    result = item(State.CLOSED, FollowUp.NOTIFY_ONLY)
    result.notification_method = "phone"
    result.reopen()
    assert (result.state, result.follow_up, result.notification_method) == (State.NEW, "", "")


def test_a_reviewed_result_with_a_follow_up_to_book_cannot_close_before_it_is_booked():
    result = item(State.PATIENT_NOTIFIED, FollowUp.APPOINTMENT)
    assert not can_proceed(result.close)
