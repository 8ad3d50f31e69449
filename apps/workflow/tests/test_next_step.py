"""Every state of every workflow tells the user the next step or who acts next (issue 14: after
"Start scheduling" a scheduler was left with Forward and Cancel and no hint)."""

import re
from types import SimpleNamespace

import pytest

from apps.workflow.registry import workflow_models, workflow_policy
from apps.workflow.transitions import EXCEPTIONS_QUEUE


def _states(model):
    return [value for value, _ in model._meta.get_field("state").choices]


def test_the_three_workflows_are_registered():
    assert {"referral", "intake", "result"} <= set(workflow_models())


@pytest.mark.parametrize("workflow", sorted(workflow_models()))
def test_every_state_has_a_plain_next_step_sentence(workflow):
    policy = workflow_policy(workflow)
    states = _states(workflow_models()[workflow])
    assert states
    for state in states:
        for is_open in (True, False):
            item = SimpleNamespace(state=state, is_open=is_open, queue="somewhere")
            sentence = policy.next_step(item)
            assert sentence, f"{workflow}: no next step for {state!r}"
            assert sentence.endswith("."), sentence
            assert not re.search(r"\b[a-z]+_[a-z_]+\b", sentence), f"internal word in {sentence!r}"


@pytest.mark.parametrize("workflow", sorted(workflow_models()))
def test_a_held_item_says_it_waits_for_a_steward(workflow):
    item = SimpleNamespace(state=_states(workflow_models()[workflow])[0], is_open=True, queue=EXCEPTIONS_QUEUE)
    assert "terminology steward" in workflow_policy(workflow).next_step(item)


def test_scheduling_says_where_to_book():
    item = SimpleNamespace(state="scheduling", is_open=True, queue="scheduling")
    sentence = workflow_policy("referral").next_step(item)
    assert "Find a free slot and book it here" in sentence and "book the appointment in the EHR" in sentence
