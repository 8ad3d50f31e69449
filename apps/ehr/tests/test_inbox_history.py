"""Why each attempt failed is kept: a retry that succeeds clears ``last_error`` (there is no error
now) but not the history, which the integration console shows on the message's page."""

import pytest
from django.urls import reverse

from apps.core.roles import Role
from apps.ehr.handlers import handler_register, handler_unregister
from apps.ehr.models import InboxMessage
from apps.ehr.services.inbox import inbox_process, inbox_receive

pytestmark = pytest.mark.django_db
Status = InboxMessage.Status
PATIENT = {"resourceType": "Patient", "id": "p1", "meta": {"versionId": "1"}, "name": [{"family": "Doe"}]}


def test_each_failed_attempts_cause_survives_the_retry_that_succeeds(ehr_source, client, make_user, settings):
    settings.EHR_RETRY_BASE_SECONDS = 0
    causes = iter(["referral service unavailable", "lock timeout on the referral row"])

    def flaky(change):
        if (cause := next(causes, None)) is not None:
            raise RuntimeError(cause)

    handler_register("Patient", flaky)
    try:
        receipt = inbox_receive(source=ehr_source, body=PATIENT, channel="webhook", process=False)
        for _ in range(3):
            InboxMessage.objects.filter(pk=receipt.new_ids[0]).update(next_attempt_at=None)
            inbox_process(message_ids=receipt.new_ids)
    finally:
        handler_unregister("Patient", flaky)

    message = InboxMessage.objects.get()
    assert (message.status, message.attempts, message.last_error) == (Status.PROCESSED, 3, "")
    assert [(f["attempt"], f["error"]) for f in message.failures] == [
        (1, "RuntimeError: referral service unavailable"),
        (2, "RuntimeError: lock timeout on the referral row"),
    ]
    client.force_login(make_user(Role.INTEGRATION_ADMIN))
    page = client.get(reverse("ehr:inbox_detail", args=[message.pk])).content.decode()
    assert "Failed attempts" in page
    assert page.index("Attempt 2") < page.index("lock timeout") < page.index("Attempt 1") < page.index("unavailable")


def test_a_polled_entry_with_an_invalid_id_is_a_dead_letter_that_says_why(ehr_source):
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": PATIENT}, {"resource": {**PATIENT, "id": "x" * 129}}],
    }
    receipt = inbox_receive(source=ehr_source, body=bundle, channel="poll", process=False, reject_invalid_ids=False)
    assert [line.duplicate for line in receipt.messages] == [False, False]
    bad = InboxMessage.objects.get(pk=receipt.messages[1].id)
    assert (bad.status, bad.error_code) == (Status.DEAD, "invalid_id")
    assert "is not a FHIR id" in bad.last_error and "(129 characters)" in bad.last_error
    assert bad.failures[0]["error"] == bad.last_error
    # A second long id differing only in its last character is its own message, not a "duplicate".
    again = inbox_receive(
        source=ehr_source,
        body={**bundle, "entry": [{"resource": {**PATIENT, "id": "x" * 128 + "y"}}]},
        channel="poll",
        process=False,
        reject_invalid_ids=False,
    )
    assert again.messages[0].duplicate is False


def test_the_outbox_page_shows_why_each_attempt_failed(client, make_user):
    from tests.plugins.ehr_messages import outbox_make

    failures = [
        {"at": "2026-03-02T14:00:00+00:00", "attempt": 1, "error": "could not reach the EHR"},
        {"at": "2026-03-02T14:01:00+00:00", "attempt": 2, "error": "HTTP 503: try later"},
    ]
    message = outbox_make(status="sent", failures=failures)
    client.force_login(make_user(Role.INTEGRATION_ADMIN))
    page = client.get(reverse("ehr:outbox_detail", args=[message.pk])).content.decode()
    assert page.index("Attempt 2") < page.index("HTTP 503") < page.index("Attempt 1") < page.index("could not reach")
