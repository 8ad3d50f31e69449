"""Specialty codes through the terminology maps: mapped → routed; unmapped → held in the
exceptions queue and the unmapped-codes queue; mapped later → routed automatically."""

import pytest

from apps.ehr.models import InboxMessage
from apps.referrals.impact import referral_impact
from apps.referrals.models import Referral
from apps.terminology.models import ConceptMap, UnmappedCode
from apps.workflow.models import Transition
from tests.plugins.referral_feed import SNOMED, feed, make_source, service_request, specialty_map
from tests.plugins.terminology import in_review, row, steward

pytestmark = pytest.mark.django_db
DERMATOLOGY = {"coding": [{"system": SNOMED, "code": "394582007", "display": "Dermatology"}]}


def test_a_mapped_specialty_routes_to_its_service_line(django_capture_on_commit_callbacks):
    source, _ = make_source()
    feed(source, service_request(), capture=django_capture_on_commit_callbacks)
    referral = Referral.objects.get()
    assert (referral.canonical_specialty, referral.service_line.code, referral.queue) == (
        "cardiology", "cardiology", "triage",
    )  # fmt: skip


def test_unmapped_specialty_is_held_then_routed_when_a_mapping_becomes_active(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    source, _ = make_source()
    [message] = feed(source, service_request(performerType=DERMATOLOGY), capture=capture)
    referral = Referral.objects.get()
    assert message.status == InboxMessage.Status.PROCESSED  # nothing is lost: the item exists, held
    assert referral.queue == "exceptions" and referral.canonical_specialty == ""
    assert "394582007" in referral.exception_reason and "not a known code" in referral.exception_reason
    unmapped = UnmappedCode.objects.get(code="394582007")
    assert (unmapped.system, unmapped.count, unmapped.example) == (SNOMED, 1, f"inbox:{message.pk}")

    specialty_map(rows=(("394579002", "cardiology"), ("394582007", "dermatology")), hooks=capture)
    referral.refresh_from_db()
    assert (referral.queue, referral.canonical_specialty, referral.exception_reason) == ("triage", "dermatology", "")
    route = Transition.objects.get(item_id=referral.pk, transition="route")
    assert route.source == "system" and "now maps to dermatology" in route.reason


def test_a_system_with_no_map_at_all_is_held_with_the_reason(django_capture_on_commit_callbacks):
    source, _ = make_source(mapped=False)
    feed(source, service_request(), capture=django_capture_on_commit_callbacks)
    referral = Referral.objects.get()
    assert referral.queue == "exceptions" and "No active concept map" in referral.exception_reason
    assert UnmappedCode.objects.filter(system=SNOMED, code="394579002").exists()


def test_impact_preview_counts_open_referrals_whose_routing_would_change(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    source, _ = make_source()
    feed(source, service_request("sr1", patient="p1"), service_request("sr2", patient="p2"), capture=capture)
    feed(source, service_request("sr3", patient="p3", performerType=DERMATOLOGY), capture=capture)
    proposal = in_review(
        ConceptMap.objects.get(name="snomed-specialty"),
        [row("394579002", "cardiology"), row("394582007", "dermatology")],
        author=steward(),
    )
    impact = {(i.queue, i.count, i.what) for i in referral_impact(proposal)}
    assert impact == {("exceptions", 1, "routing")}  # the held dermatology referral; cardiology unchanged
