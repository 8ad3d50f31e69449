"""The intake state machine as a table: every (state, transition) pair, no database."""

import pytest
from django_fsm import can_proceed

from apps.intake.models import Intake
from apps.intake.workflow import State, is_closed

S = State
# transition → {source: target}; every pair not listed must be refused.
TABLE = {
    "contact": {S.PENDING: S.OUTREACH},
    "start": {S.PENDING: S.IN_PROGRESS, S.OUTREACH: S.IN_PROGRESS},
    "finish": {S.PENDING: S.READY, S.OUTREACH: S.READY, S.IN_PROGRESS: S.READY},
    "reopen": {S.READY: S.IN_PROGRESS},
    "finish_late": dict.fromkeys((S.PENDING, S.OUTREACH, S.IN_PROGRESS, S.CHECKED_IN), S.COMPLETED_LATE),
    "check_in": dict.fromkeys((S.PENDING, S.OUTREACH, S.IN_PROGRESS, S.READY, S.COMPLETED_LATE), S.CHECKED_IN),
    "mark_no_show": dict.fromkeys((S.PENDING, S.OUTREACH, S.IN_PROGRESS, S.READY, S.COMPLETED_LATE), S.NO_SHOW),
    "cancel": dict.fromkeys((S.PENDING, S.OUTREACH, S.IN_PROGRESS, S.READY, S.COMPLETED_LATE), S.CANCELLED),
    "reschedule": {S.COMPLETED_LATE: S.READY},
}
CASES = [(name, state) for name in TABLE for state in State]


@pytest.mark.parametrize(("name", "state"), CASES, ids=lambda v: str(v))
def test_transition_table(name, state):
    intake = Intake(state=state)
    method = getattr(intake, name)
    expected = TABLE[name].get(state)
    assert can_proceed(method) is (expected is not None)
    if expected is not None:
        method()
        assert intake.state == expected


def test_no_show_and_cancelled_are_final():
    for state in (S.NO_SHOW, S.CANCELLED):
        intake = Intake(state=state)
        assert not [t.name for t in intake.get_available_state_transitions()]


@pytest.mark.parametrize(
    ("state", "arrived", "complete", "closed"),
    [
        (S.READY, False, True, False),
        (S.CHECKED_IN, True, False, False),  # arrived, still finishing the checklist
        (S.CHECKED_IN, True, True, True),
        (S.COMPLETED_LATE, False, True, False),  # done on the day, patient not here yet
        (S.COMPLETED_LATE, True, True, True),
        (S.NO_SHOW, False, False, True),
        (S.CANCELLED, False, False, True),
    ],
)
def test_when_an_intake_is_closed(state, arrived, complete, closed):
    assert is_closed(state, arrived=arrived, checklist_complete=complete) is closed
