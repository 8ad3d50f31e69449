"""Signed patient links: one purpose, expiring, spent once; anything else is refused."""

from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone

from apps.notifications.links import LinkGone, LinkNotFound, patient_link_make, patient_link_open, patient_link_use
from apps.notifications.models import PatientLink

pytestmark = pytest.mark.django_db


def _make(purpose="confirm", days=3):
    return patient_link_make(purpose=purpose, workflow="intake", item_id=42, valid_for=timedelta(days=days))


def test_a_link_opens_for_its_purpose_and_is_spent_once():
    token = _make()
    assert patient_link_open(token=token, purpose="confirm").item_id == 42
    assert patient_link_use(token=token, purpose="confirm").used_at is not None
    with pytest.raises(LinkGone):
        patient_link_use(token=token, purpose="confirm")


def test_a_confirm_link_cannot_cancel():
    with pytest.raises(LinkNotFound):
        patient_link_open(token=_make("confirm"), purpose="cancel")


def test_expired_and_tampered_links_are_refused():
    token = _make()
    PatientLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(LinkGone):
        patient_link_open(token=token, purpose="confirm")
    with pytest.raises(LinkNotFound):
        patient_link_open(token=token[:-2] + "xx", purpose="confirm")
    forged = signing.dumps(PatientLink.objects.get().pk, salt="another-salt")
    with pytest.raises(LinkNotFound):
        patient_link_open(token=forged, purpose="confirm")


def test_the_token_carries_no_patient_data():
    token = _make()
    assert signing.loads(token, salt="clinops.patient-link.confirm") == PatientLink.objects.get().pk
