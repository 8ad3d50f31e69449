"""The main navigation marks the one entry the page belongs to."""

import pytest

from apps.core.navigation import nav_for
from apps.core.roles import Role
from tests.plugins.core import SiteFactory, UserFactory

pytestmark = pytest.mark.django_db


def _current(user, path: str) -> list[str]:
    return [item["label"] for item in nav_for(user, path) if item["current"]]


def test_a_worklist_under_a_workflows_page_is_the_only_current_entry():
    maya = UserFactory(role=Role.MEDICAL_ASSISTANT, sites=[SiteFactory()])
    assert _current(maya, "/intake/worklist/") == ["Pre-visit worklist"]  # not "Intake" as well
    assert _current(maya, "/intake/") == ["Intake"]
    assert _current(maya, "/intake/12/") == ["Intake"]
    assert _current(maya, "/results/worklist/?due=overdue") == ["Results worklist"]
    assert _current(maya, "/") == ["Home"]


def test_the_results_inbox_and_the_worklist_are_told_apart_for_a_clinician():
    dr = UserFactory(role=Role.CLINICIAN, sites=[SiteFactory()])
    assert _current(dr, "/results/") == ["Results inbox"]
    assert _current(dr, "/results/7/") == ["Results inbox"]
    assert _current(dr, "/results/worklist/") == ["Results worklist"]
