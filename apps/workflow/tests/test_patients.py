"""One way to attach the store Patient to listed items, and one way to access-log a list."""

import pytest
from django.test import RequestFactory

from apps.core.access_log import access_log_listed
from apps.core.models import AccessLog
from apps.core.roles import Role
from apps.workflow.selectors import patient_get, patients_attach
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.intake import intake_make, ma

pytestmark = pytest.mark.django_db


@pytest.fixture
def site():
    return SiteFactory(code="north", name="North Clinic", timezone="America/New_York")


def test_patients_are_attached_in_one_query_and_only_for_roles_that_see_them(site, django_assert_num_queries):
    items = [intake_make(site), intake_make(site), intake_make(site)]
    items[2].patient_ref = "Patient/never-arrived"
    items[1].patient_ref = f"https://ehr.example/fhir/{items[1].patient_ref}"  # absolute references resolve too
    user = ma(site)
    user.has_perm("core.view_patient_data")  # the permission cache, loaded once per user
    with django_assert_num_queries(1):
        patients_attach(items, user=user)
    assert [bool(i.patient) for i in items] == [True, True, False]
    assert items[0].patient.family.startswith("Family") and items[0].patient.birth_date
    leader = UserFactory(role=Role.LEADER, sites=[site])
    assert patients_attach(items, user=leader)[0].patient is None
    assert patient_get(items[0], user=leader) is None and patient_get(items[0], user=user) is not None


def test_a_list_is_logged_once_per_item_shown_one_insert_per_site(site):
    user = ma(site)
    items = [intake_make(site), intake_make(site)]
    items[1].patient_ref = "Patient/never-arrived"
    patients_attach(items, user=user)
    request = RequestFactory().get("/intake/")
    request.user = user
    logged = access_log_listed(request, items)
    assert [(row.patient, row.what, row.action, row.site) for row in logged] == [
        (items[0].patient_ref, f"intake:{items[0].pk}", AccessLog.Action.LIST, site)
    ]
    everyone = access_log_listed(request, items, only_patients_shown=False)
    assert [row.what for row in everyone] == [f"intake:{i.pk}" for i in items]
