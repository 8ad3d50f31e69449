"""The one outreach record: any workflow's item, its counter, the rules, the reads."""

import pytest
from django.core.exceptions import PermissionDenied

from apps.core.errors import ApplicationError, ConflictError
from apps.core.roles import Role
from apps.intake.models import Intake
from apps.workflow.models import Outreach
from apps.workflow.outreach import outreach_failed_count, outreach_list, outreach_record
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.intake import intake_make, ma

pytestmark = pytest.mark.django_db


@pytest.fixture
def site():
    return SiteFactory(code="north", name="North Clinic", timezone="America/New_York")


def test_an_attempt_is_recorded_on_the_item_and_counted(site):
    intake, user = intake_make(site), ma(site)
    attempt = outreach_record(workflow="intake", item_id=intake.pk, by=user, channel="sms", outcome="reached",
                              note="x" * 600)  # fmt: skip
    assert (attempt.workflow, attempt.item_id, attempt.site_id, attempt.by) == ("intake", intake.pk, site.pk, user)
    assert len(attempt.note) == 500 and str(attempt) == "Text message: Reached the patient"
    assert Intake.objects.get(pk=intake.pk).outreach_attempts == 1


def test_unknown_channel_or_outcome_is_a_clear_error_and_counts_nothing(site):
    intake, user = intake_make(site), ma(site)
    with pytest.raises(ApplicationError, match="the channel is missing or unknown") as exc:
        outreach_record(workflow="intake", item_id=intake.pk, by=user, channel="pigeon", outcome="reached")
    assert exc.value.code == "invalid_outreach"
    with pytest.raises(ApplicationError, match="the outcome is missing or unknown"):
        outreach_record(workflow="intake", item_id=intake.pk, by=user, channel="phone", outcome="")
    assert not Outreach.objects.exists() and Intake.objects.get(pk=intake.pk).outreach_attempts == 0


def test_a_closed_item_and_the_wrong_people_are_refused(site):
    intake, user = intake_make(site), ma(site)
    elsewhere = UserFactory(role=Role.MEDICAL_ASSISTANT, sites=[SiteFactory(code="south")])
    with pytest.raises(PermissionDenied):
        outreach_record(workflow="intake", item_id=intake.pk, by=elsewhere, channel="phone", outcome="reached")
    Intake.objects.filter(pk=intake.pk).update(is_open=False)
    with pytest.raises(ConflictError, match="This intake is closed") as exc:
        outreach_record(workflow="intake", item_id=intake.pk, by=user, channel="phone", outcome="reached")
    assert exc.value.code == "closed" and not Outreach.objects.exists()


def test_the_list_is_the_items_own_oldest_first_and_failures_are_counted(site):
    first, other, user = intake_make(site), intake_make(site), ma(site)
    for outcome in ("no_answer", "wrong_number", "reached", "left_message"):
        outreach_record(workflow="intake", item_id=first.pk, by=user, channel="phone", outcome=outcome)
    outreach_record(workflow="intake", item_id=other.pk, by=user, channel="phone", outcome="no_answer")
    outcomes = [a.outcome for a in outreach_list(workflow="intake", item_id=first.pk)]
    assert outcomes == ["no_answer", "wrong_number", "reached", "left_message"]
    assert outreach_failed_count(workflow="intake", item_id=first.pk) == 3
    assert outreach_failed_count(workflow="referral", item_id=first.pk) == 0
