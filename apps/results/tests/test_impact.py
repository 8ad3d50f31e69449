"""A result-interpretation map version and the open results it changes: what the stewards'
preview lists is what its activation re-routes (apps/results/impact.py)."""

import pytest

from apps.core.roles import Role
from apps.results.impact import result_impact
from apps.results.models import ResultItem
from apps.terminology.impact import impact_preview
from apps.terminology.models import ConceptMap
from apps.terminology.services import version_activate, version_approve
from apps.workflow.models import Transition
from apps.workflow.services import sla_policies_load
from tests.plugins.core import UserFactory
from tests.plugins.terminology import in_review, row, steward

from .ehr_feed import INTERPRETATION_ROWS, feed, link, make_source, observation

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(db, django_capture_on_commit_callbacks):
    sla_policies_load()
    source, site = make_source()
    dr = UserFactory(username="drlee", role=Role.CLINICIAN, sites=[site])
    link(source, "Practitioner/dr-a", dr, site)
    capture = django_capture_on_commit_callbacks
    feed(source, observation("o1", patient="p1", interpretation="W"), capture=capture)  # held: W is unmapped
    feed(source, observation("o2", patient="p2", interpretation="W"), capture=capture)
    feed(source, observation("o3", patient="p3", interpretation="H"), capture=capture)  # abnormal, in review
    feed(source, observation("o4", patient="p4", interpretation="N"), capture=capture)  # normal: not touched
    return capture


def proposal(rows):
    return in_review(ConceptMap.objects.get(name="v3-result-interpretation"), rows, author=steward())


def by_resource():
    return {i.resource_id: i for i in ResultItem.objects.all()}


def test_activation_reroutes_every_result_the_preview_listed(lab):
    items = by_resource()
    assert [items[o].queue for o in ("o1", "o2", "o3", "o4")] == ["exceptions", "exceptions", "review", "review"]
    # W now maps to critical; H is corrected to critical.
    rows = [row(c, "critical" if c == "H" else t) for c, t in INTERPRETATION_ROWS] + [row("W", "critical")]
    version = proposal(rows)
    listed = {i.item_id: (i.queue, i.before, i.after) for i in result_impact(version)}
    assert listed == {
        items["o1"].pk: ("Exceptions", "Abnormal, held for a steward", "Critical"),
        items["o2"].pk: ("Exceptions", "Abnormal, held for a steward", "Critical"),
        items["o3"].pk: ("Review", "Abnormal", "Critical"),
    }
    assert impact_preview(version).total == 3

    with lab(execute=True):
        version_approve(version_id=version.pk, by=steward())
        version_activate(version_id=version.pk, by=steward())

    rerouted = Transition.objects.filter(workflow="result", transition="interpret", source="system")
    assert sorted(rerouted.values_list("item_id", flat=True)) == sorted(listed)  # re-routed = previewed
    assert impact_preview(version).total == 0
    items = by_resource()
    assert {o: (items[o].queue, items[o].criticality) for o in items} == {
        "o1": ("review", "critical"),
        "o2": ("review", "critical"),
        "o3": ("review", "critical"),
        "o4": ("review", "normal"),
    }
    assert items["o1"].exception_reason == "" and items["o3"].priority == "stat"


def test_a_version_that_says_a_code_has_no_equivalent_releases_nothing(lab):
    version = proposal([row(c, t) for c, t in INTERPRETATION_ROWS] + [row("W")])  # W: "not mapped"
    assert list(result_impact(version)) == []  # no criticality from W yet: still held for a steward
    with lab(execute=True):
        version_approve(version_id=version.pk, by=steward())
        version_activate(version_id=version.pk, by=steward())
    assert not Transition.objects.filter(workflow="result", transition="interpret").exists()
    assert sorted(ResultItem.objects.filter(queue="exceptions").values_list("resource_id", flat=True)) == ["o1", "o2"]
