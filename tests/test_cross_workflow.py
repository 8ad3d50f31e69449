"""One EHR event that more than one workflow acts on."""

import pytest

from apps.intake.models import Intake
from apps.referrals.models import Referral
from tests.plugins import referral_feed
from tests.plugins.ehr_messages import feed
from tests.plugins.intake_feed import appointment, make_source


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_a_referral_appointment_feeds_both_workflows(capture, db):
    """Referrals also handle Appointment: one booking schedules the referral and creates the intake."""
    source, site = referral_feed.make_source()
    make_source(site=site, name=source.name)
    booked = appointment()
    booked["basedOn"] = [{"reference": "ServiceRequest/sr1"}]
    feed(source, referral_feed.service_request(), booked, capture=capture)
    assert Referral.objects.get().appointment_ref == "Appointment/a1"
    assert Intake.objects.get().site == site
