"""The version state machine and the four-eyes guard, in memory (no database)."""

from datetime import UTC, datetime

import pytest
from django_fsm import TransitionNotAllowed, can_proceed

from apps.core.models import User
from apps.terminology.models import ConceptMapVersion
from apps.terminology.workflow import FourEyesError, State, four_eyes_problem

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TRANSITIONS = ("submit", "approve", "reject", "schedule", "activate", "supersede", "retire")
ALLOWED = {
    State.DRAFT: {"submit", "retire"},
    State.IN_REVIEW: {"approve", "reject", "retire"},
    State.APPROVED: {"reject", "schedule", "activate", "retire"},
    State.ACTIVE: {"supersede", "retire"},
    State.RETIRED: set(),
}

alice, bob, carol = User(pk=1, username="alice"), User(pk=2, username="bob"), User(pk=3, username="carol")


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("name", TRANSITIONS)
def test_transition_table(state, name):
    version = ConceptMapVersion(state=state)
    assert can_proceed(getattr(version, name)) is (name in ALLOWED[state])


def test_state_cannot_be_assigned_directly():
    version = ConceptMapVersion()
    with pytest.raises(AttributeError):
        version.state = State.ACTIVE


def test_a_version_goes_from_draft_to_retired_recording_who_and_when():
    version = ConceptMapVersion(author=alice, last_editor=alice)
    version.submit(by=alice, now=NOW)
    assert (version.state, version.submitted_by, version.submitted_at) == (State.IN_REVIEW, alice, NOW)
    version.approve(by=bob, now=NOW)
    assert (version.state, version.approver, version.approved_at) == (State.APPROVED, bob, NOW)
    version.activate(by=bob, now=NOW)
    assert (version.state, version.activated_by, version.activated_at) == (State.ACTIVE, bob, NOW)
    version.supersede(by=carol, now=NOW, successor_number=4)
    assert (version.state, version.retired_reason) == (State.RETIRED, "Replaced by version 4.")
    with pytest.raises(TransitionNotAllowed):
        version.retire(by=carol, now=NOW, reason="again")


@pytest.mark.parametrize(
    ("author", "editor", "submitter", "approver", "allowed"),
    [
        (alice, alice, alice, bob, True),
        (alice, alice, alice, alice, False),  # the author
        (alice, carol, alice, carol, False),  # the last editor
        (alice, alice, carol, carol, False),  # the one who submitted
        (None, None, carol, bob, True),  # imported: no author
        (None, None, None, None, False),  # nobody approves
    ],
)
def test_four_eyes(author, editor, submitter, approver, allowed):
    version = ConceptMapVersion(state=State.IN_REVIEW, author=author, last_editor=editor, submitted_by=submitter)
    assert (four_eyes_problem(version, approver) == "") is allowed
    if allowed:
        version.approve(by=approver, now=NOW)
        assert version.state == State.APPROVED
    else:
        with pytest.raises(FourEyesError):
            version.approve(by=approver, now=NOW)
        assert version.state == State.IN_REVIEW and version.approver is None


def test_reject_returns_to_draft_and_forgets_the_approval():
    version = ConceptMapVersion(state=State.IN_REVIEW, author=alice, last_editor=alice, submitted_by=alice)
    version.approve(by=bob, now=NOW)
    version.schedule(by=bob, at=NOW)
    version.reject(by=bob, now=NOW)
    assert version.state == State.DRAFT
    assert (version.approver, version.activate_at, version.submitted_by) == (None, None, None)
