"""Results in batches: the observations and reports of one delivery are taken together (one
lookup of memberships and items for the batch), with the same end state as one at a time, and a
result that cannot be routed fails alone."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.ehr.models import InboxMessage
from apps.ehr.services.inbox import inbox_receive
from apps.ehr.services.sources import source_upsert
from apps.results.models import ResultItem
from tests.plugins.core import SiteFactory

from .ehr_feed import link, make_source, observation, report
from .test_handlers import clinician

pytestmark = pytest.mark.django_db
Status = InboxMessage.Status


def deliver(source, *resources, capture) -> list[InboxMessage]:
    """One Bundle (one batch) as the EHR would send it, processed after commit."""
    body = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    with capture(execute=True):
        receipt = inbox_receive(source=source, body=body, channel=InboxMessage.Channel.WEBHOOK)
    found = InboxMessage.objects.in_bulk([line.id for line in receipt.messages])
    return [found[line.id] for line in receipt.messages]


def items() -> dict[tuple[str, str], str]:
    return {(i.resource_type, i.resource_id): i.state for i in ResultItem.objects.all()}


def test_observations_then_their_report_in_one_batch_fold_into_the_report(django_capture_on_commit_callbacks):
    source, _ = make_source()
    messages = deliver(
        source, observation("o1", interpretation="N"), observation("o2", interpretation="HH", value=30),
        report(results=("o1", "o2")), capture=django_capture_on_commit_callbacks,
    )  # fmt: skip
    assert {m.status for m in messages} == {Status.PROCESSED}
    assert items() == {("Observation", "o1"): "voided", ("Observation", "o2"): "voided",
                       ("DiagnosticReport", "r1"): "new"}  # fmt: skip
    item = ResultItem.objects.get(resource_type="DiagnosticReport")
    assert (item.criticality, len(item.values)) == ("critical", 2)


def test_a_report_then_its_observations_in_one_batch_make_one_item(django_capture_on_commit_callbacks):
    source, _ = make_source()
    deliver(
        source, report(results=("o1", "o2")), observation("o1", interpretation="N"),
        observation("o2", interpretation="HH", value=30), capture=django_capture_on_commit_callbacks,
    )  # fmt: skip
    # The observations find the report the same batch listed them in: no item of their own.
    assert items() == {("DiagnosticReport", "r1"): "new"}
    assert ResultItem.objects.get().criticality == "critical"


def test_an_unroutable_result_fails_alone_and_the_rest_of_the_batch_is_applied(django_capture_on_commit_callbacks):
    source, _ = source_upsert(name="ehr-half-set-up", base_url="http://127.0.0.1:9/fhir")
    site = SiteFactory(code="south")
    link(source, "Practitioner/known", clinician(site), site)
    messages = deliver(
        source, observation("o1", performer="Practitioner/known"), observation("o2", performer="Practitioner/unknown"),
        observation("o3", performer="Practitioner/known"), capture=django_capture_on_commit_callbacks,
    )  # fmt: skip
    assert [m.status for m in messages] == [Status.PROCESSED, Status.FAILED, Status.PROCESSED]
    assert "No results site" in messages[1].last_error
    assert set(items()) == {("Observation", "o1"), ("Observation", "o3")}


def queries_for(source, ids, capture) -> int:
    with CaptureQueriesContext(connection) as seen:
        messages = deliver(source, *(observation(i, patient=f"p-{i}") for i in ids), capture=capture)
    assert {m.status for m in messages} == {Status.PROCESSED}
    return len(seen)


def test_a_batch_of_results_takes_as_many_queries_for_forty_as_for_four(django_capture_on_commit_callbacks):
    """Set-based: what the handlers look up is asked once per batch, not once per result."""
    source, _ = source_upsert(name="ehr-referrals-only", base_url="http://127.0.0.1:9/fhir")
    capture = django_capture_on_commit_callbacks
    few = queries_for(source, [f"a{i}" for i in range(4)], capture)
    many = queries_for(source, [f"b{i}" for i in range(40)], capture)
    assert many == few and not ResultItem.objects.exists()
