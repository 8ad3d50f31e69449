"""Specialty codes through the terminology maps: mapped → routed; unmapped → held in the
exceptions queue and the unmapped-codes queue; mapped later → routed automatically."""

import pytest

from apps.ehr.models import InboxMessage
from apps.referrals.impact import referral_impact
from apps.referrals.models import Referral
from apps.terminology.impact import impact_preview
from apps.terminology.models import ConceptMap, UnmappedCode
from apps.terminology.services import version_activate, version_approve
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
    held = Referral.objects.get(queue="exceptions")
    impact = [(i.queue, i.item_id, i.what, i.before, i.after) for i in referral_impact(proposal)]
    # the held dermatology referral; cardiology unchanged; no patient in what a steward sees
    assert impact == [("Exceptions", held.pk, "routing", "held: no specialty yet", "Dermatology")]


def test_activation_reroutes_every_referral_the_preview_listed(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    source, _ = make_source()
    feed(source, *[service_request(f"sr{n}", patient=f"p{n}") for n in range(3)], capture=capture)
    feed(source, *[service_request(f"d{n}", patient=f"q{n}", performerType=DERMATOLOGY) for n in range(2)],
         capture=capture)  # fmt: skip
    routed = list(Referral.objects.filter(queue="triage").order_by("pk"))
    due_before = {r.pk: r.due_at for r in routed}
    # The steward corrects cardiology (routed referrals in triage) and maps dermatology (held ones).
    version = in_review(
        ConceptMap.objects.get(name="snomed-specialty"),
        [row("394579002", "nephrology"), row("394582007", "dermatology")],
        author=steward(),
    )
    previewed = impact_preview(version)
    listed = sorted(i.item_id for i in referral_impact(version))
    assert previewed.total == len(listed) == 5
    assert {(r.queue, r.count) for r in previewed.rows} == {("Triage", 3), ("Exceptions", 2)}

    with capture(execute=True):
        version_approve(version_id=version.pk, by=steward())
        version_activate(version_id=version.pk, by=steward())

    rerouted = Transition.objects.filter(transition="route", source="system").order_by("item_id")
    assert sorted(rerouted.values_list("item_id", flat=True)) == listed  # re-routed = previewed
    assert impact_preview(version).total == 0  # nothing the version changes is left behind
    assert set(Referral.objects.values_list("queue", "canonical_specialty")) == {
        ("triage", "nephrology"), ("triage", "dermatology"),
    }  # fmt: skip
    for referral in routed:  # already in a queue: re-routed, but its SLA clock is not reset
        referral.refresh_from_db()
        assert referral.due_at == due_before[referral.pk]


def test_a_referral_the_new_version_no_longer_maps_is_held_for_a_person(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    source, _ = make_source()
    feed(source, service_request("sr1"), capture=capture)
    version = in_review(ConceptMap.objects.get(name="snomed-specialty"), [row("394579002")], author=steward())
    assert [i.after for i in referral_impact(version)] == ["held for a person to route"]
    with capture(execute=True):
        version_approve(version_id=version.pk, by=steward())
        version_activate(version_id=version.pk, by=steward())
    referral = Referral.objects.get()
    assert (referral.queue, referral.canonical_specialty) == ("exceptions", "")
    assert "no longer maps specialty 394579002" in referral.exception_reason
