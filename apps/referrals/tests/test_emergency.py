"""Break-glass: reason required, one patient, read-only, expires, every view logged as emergency.

Here rather than in core: the grant is shown working on a referral's pages and finds the patient
in the ehr store, both layers above core (core's own part: apps/core/tests/test_emergency.py)."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from apps.core.models import AccessLog, EmergencyGrant
from apps.core.roles import EMERGENCY_GROUP, Role, roles_sync
from apps.ehr.models import Patient
from tests.plugins.core import UserFactory
from tests.plugins.referrals import ReferralFactory

pytestmark = pytest.mark.django_db
REASON = "Patient in our ED unconscious, need referral history"


@pytest.fixture
def clinician(own_site):
    user = UserFactory(username="dr-e", role=Role.SCHEDULER, sites=[own_site])
    roles_sync()
    user.groups.add(Group.objects.get(name=EMERGENCY_GROUP))
    return user


@pytest.fixture
def elsewhere(other_site):
    """A referral at a site the clinician does not belong to, and one of another patient there."""
    return ReferralFactory(site=other_site), ReferralFactory(site=other_site)


def break_glass(client, patient, reason=REASON):
    return client.post(reverse("core:emergency_request"), {"patient": patient, "reason": reason})


def test_without_a_grant_the_other_sites_item_is_not_found(client, clinician, elsewhere):
    client.force_login(clinician)
    assert client.get(reverse("referrals:detail", kwargs={"pk": elsewhere[0].pk})).status_code == 404


def test_a_grant_opens_that_patients_items_only_and_every_view_is_logged_as_emergency(client, clinician, elsewhere):
    target, other_patient = elsewhere
    client.force_login(clinician)
    assert break_glass(client, target.patient_ref).status_code == 302
    grant = EmergencyGrant.objects.get()
    assert grant.reason == REASON and grant.expires_at - grant.started_at == timedelta(minutes=60)

    page = client.get(reverse("referrals:detail", kwargs={"pk": target.pk}))
    assert page.status_code == 200
    assert client.get(reverse("referrals:detail", kwargs={"pk": other_patient.pk})).status_code == 404
    logged = AccessLog.objects.filter(user=clinician, what=f"referral:{target.pk}")
    assert logged.exists() and all(row.emergency for row in logged)


def test_a_grant_does_not_let_anyone_work_the_item(client, clinician, elsewhere):
    target, _ = elsewhere
    client.force_login(clinician)
    break_glass(client, target.patient_ref)
    response = client.post(reverse("referrals:claim", kwargs={"pk": target.pk}))
    assert response.status_code in (403, 404)
    target.refresh_from_db()
    assert target.assignee_id is None


def test_the_grant_ends_after_an_hour(client, clinician, elsewhere):
    target, _ = elsewhere
    client.force_login(clinician)
    break_glass(client, target.patient_ref)
    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        client.logout()  # an hour idle signs out anyway: sign in afresh
        client.force_login(clinician)
        assert client.get(reverse("referrals:detail", kwargs={"pk": target.pk})).status_code == 404


@pytest.mark.parametrize("reason", ["", "   ", "because"])
def test_a_reason_is_required(client, clinician, elsewhere, reason):
    client.force_login(clinician)
    response = break_glass(client, elsewhere[0].patient_ref, reason)
    assert response.status_code == 400 and b"Say why" in response.content
    assert not EmergencyGrant.objects.exists()
    assert elsewhere[0].patient_ref.encode() in response.content  # what was typed is kept


def test_an_unknown_patient_is_refused_clearly(client, clinician):
    client.force_login(clinician)
    response = break_glass(client, "Patient/nobody")
    assert response.status_code == 400 and b"No single patient matches" in response.content


def test_the_mrn_finds_the_patient(client, clinician, elsewhere):
    target, _ = elsewhere
    client.force_login(clinician)
    mrn = Patient.objects.get(fhir_id=target.patient_ref.split("/", 1)[1]).mrn
    assert break_glass(client, mrn).status_code == 302
    assert EmergencyGrant.objects.get().patient == target.patient_ref


def test_someone_outside_the_group_cannot_break_the_glass(client, own_site, elsewhere):
    client.force_login(UserFactory(role=Role.SUPERVISOR, sites=[own_site]))
    assert break_glass(client, elsewhere[0].patient_ref).status_code == 403
    assert not EmergencyGrant.objects.exists()


def test_supervisors_see_every_grant_with_its_reason_and_views(client, clinician, elsewhere, own_site):
    target, _ = elsewhere
    client.force_login(clinician)
    break_glass(client, target.patient_ref)
    client.get(reverse("referrals:detail", kwargs={"pk": target.pk}))
    client.get(reverse("referrals:detail", kwargs={"pk": target.pk}))

    client.force_login(UserFactory(role=Role.SUPERVISOR, sites=[own_site]))
    page = client.get(reverse("core:emergency_review"))
    assert page.status_code == 200
    assert REASON.encode() in page.content and target.patient_ref.encode() in page.content
    (grant,) = page.context["grants"]
    assert grant.views == 2
