"""Break-glass in core alone: the patient is found through the finder the ehr app registers, so
core never imports ehr. (Grants at work on referral pages: apps/referrals/tests/test_emergency.py.)"""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured, ValidationError

from apps.core import emergency
from apps.core.models import EmergencyGrant
from apps.core.roles import EMERGENCY_GROUP, Role, roles_sync
from tests.plugins.core import UserFactory

pytestmark = pytest.mark.django_db
REASON = "Patient in our ED unconscious, need referral history"
PATIENTS = {"Patient/p1": "MRN-1", "Patient/p2": "MRN-2", "Patient/p3": "MRN-2"}


def find(text: str) -> list[str]:
    return [ref for ref, mrn in PATIENTS.items() if text in (ref, mrn)][:2]


@pytest.fixture
def finder():
    registered = emergency._patient_finder
    emergency.emergency_patient_finder_register(find)
    yield
    emergency.emergency_patient_finder_register(registered)


@pytest.fixture
def user(own_site):
    user = UserFactory(role=Role.SCHEDULER, sites=[own_site])
    roles_sync()
    user.groups.add(Group.objects.get(name=EMERGENCY_GROUP))
    return user


def test_the_ehr_app_registers_its_patient_finder():
    finder = emergency._patient_finder
    assert finder is not None and (finder.__module__, finder.__name__) == ("apps.ehr.selectors", "patient_refs_find")


@pytest.mark.parametrize("typed", ["Patient/p1", "  MRN-1 "])
def test_the_grant_names_the_one_patient_found(finder, user, typed):
    grant = emergency.emergency_grant_open(user=user, patient=typed, reason=REASON)
    assert grant.patient == "Patient/p1"


@pytest.mark.parametrize("typed", ["Patient/nobody", "MRN-2", "   "])
def test_no_grant_unless_exactly_one_patient_matches(finder, user, typed):
    with pytest.raises(ValidationError, match="No single patient matches"):
        emergency.emergency_grant_open(user=user, patient=typed, reason=REASON)
    assert not EmergencyGrant.objects.exists()


def test_without_a_finder_the_misconfiguration_is_said(finder, user):
    emergency.emergency_patient_finder_register(None)
    with pytest.raises(ImproperlyConfigured):
        emergency.emergency_grant_open(user=user, patient="Patient/p1", reason=REASON)


@pytest.mark.parametrize("field", ["patient", "reason"])
def test_a_nul_character_in_the_form_is_a_400_saying_so(finder, user, client, field):
    from django.urls import reverse

    client.force_login(user)
    data = {"patient": "Patient/p1", "reason": REASON}
    data[field] += "\x00"
    response = client.post(reverse("core:emergency_request"), data)
    assert response.status_code == 400
    assert "holds a NUL character" in response.content.decode()
    assert not EmergencyGrant.objects.exists()
