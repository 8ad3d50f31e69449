"""Patient search and the patient page: scoped to the user's sites (break-glass adds a patient),
every item of the patient in every workflow listed, access-logged; bad input is a form error."""

from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from apps.core.emergency import emergency_grant_open
from apps.core.models import AccessLog
from apps.core.roles import EMERGENCY_GROUP, Role, roles_sync
from apps.intake.models import Intake
from apps.referrals.workflow import State
from apps.workflow.patients import patient_from_pick, patient_pick_token, patient_search
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.ehr_store import source_make
from tests.plugins.intake import intake_make
from tests.plugins.referrals import SOURCE, ReferralFactory, patient_make
from tests.plugins.results import result_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def north():
    return SiteFactory(code="north", name="North Clinic", timezone="America/New_York")


@pytest.fixture
def south():
    return SiteFactory(code="south", name="South Hospital", timezone="America/Chicago")


@pytest.fixture
def rivera(north):
    """Ana Rivera: a referral (open) and a closed one at North, in the referral source."""
    patient_make("riv", family="Rivera", given="Ana", birth_date=date(1980, 5, 17), mrn="MRN-778")
    ReferralFactory(site=north, patient_id="riv", specialty_display="Cardiology")
    ReferralFactory(site=north, patient_id="riv", state=State.DECLINED, specialty_display="Dermatology")
    return "Patient/riv"


def search(client, **data):
    return client.post(reverse("workflow:patient_search"), data)


def test_a_scheduler_finds_a_patient_by_name_mrn_or_birth_date_only_at_their_sites(client, north, south, rivera):
    patient_make("riv-south", family="Rivera", given="Bea", mrn="MRN-900")
    ReferralFactory(site=south, patient_id="riv-south")
    sam = UserFactory(role=Role.SCHEDULER, sites=[north])
    for criteria in ({"name": "rivera"}, {"name": "Ana Riv"}, {"mrn": "mrn-778"}, {"birth_date": "1980-05-17"}):
        hits = (
            patient_search(user=sam, **criteria)
            if "birth_date" not in criteria
            else patient_search(user=sam, birth_date=date(1980, 5, 17))
        )
        assert [(h.patient.given, h.known_here) for h in hits] == [("Ana", True)], criteria
    client.force_login(sam)
    response = search(client, name="Rivera")
    assert response.status_code == 302 and response.url == reverse("workflow:patient_search")
    page = client.get(response.url)
    text = page.content.decode()
    assert "Rivera, Ana" in text and "Bea" not in text and "MRN-778" not in page.request["QUERY_STRING"]
    assert AccessLog.objects.filter(user=sam, patient=rivera, action=AccessLog.Action.SEARCH).count() == 1
    # The query stays out of the URL (POST, then a GET of the session's search); reload shows it again.
    assert client.get(reverse("workflow:patient_search")).content.decode().count("Rivera, Ana") == 1


def test_a_patient_new_to_the_sites_is_found_only_by_exact_mrn_and_only_by_someone_who_enters_work(
    client, north, rivera
):
    patient_make("newbie", family="Okafor", given="Chidi", mrn="MRN-555")  # same source, no item anywhere yet
    sam = UserFactory(role=Role.SCHEDULER, sites=[north])
    assert patient_search(user=sam, name="Okafor") == []
    [hit] = patient_search(user=sam, mrn="MRN-555")
    assert hit.patient.family == "Okafor" and hit.known_here is False
    clinician = UserFactory(role=Role.CLINICIAN, sites=[north])
    assert patient_search(user=clinician, mrn="MRN-555") == []
    leader = UserFactory(role=Role.LEADER, sites=[north])
    assert patient_search(user=leader, name="Rivera") == []
    # Nothing at the user's sites: the patient page is "not found" even with the id.
    client.force_login(sam)
    assert client.get(reverse("workflow:patient_detail", args=[hit.patient.pk])).status_code == 404


def test_bad_search_input_is_a_form_error_not_a_crash(client, north):
    client.force_login(UserFactory(role=Role.SCHEDULER, sites=[north]))
    bad_date = search(client, birth_date="31/02/1980")
    assert bad_date.status_code == 400 and "Enter the birth date as a date" in bad_date.content.decode()
    empty = search(client, name="  ")
    assert empty.status_code == 400 and "Give a name, an MRN or a birth date" in empty.content.decode()
    assert search(client, name="x" * 5000).status_code == 400


def test_the_patient_page_lists_every_item_in_every_workflow_open_and_closed_and_logs_the_view(client, north, rivera):
    referral_source = source_make(SOURCE)
    visit = intake_make(north, patient="riv")
    Intake.objects.filter(pk=visit.pk).update(source=referral_source)
    result = result_make(north, patient=False)
    type(result).objects.filter(pk=result.pk).update(source=referral_source, patient_ref="Patient/riv")
    supervisor = UserFactory(role=Role.SUPERVISOR, sites=[north])
    client.force_login(supervisor)
    patient = patient_search(user=supervisor, mrn="MRN-778")[0].patient
    page = client.get(reverse("workflow:patient_detail", args=[patient.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Rivera, Ana" in text and "Open (3)" in text and "Closed (1)" in text
    for label in ("Cardiology", "Dermatology", "Declined", "Routine appointment", "Glucose"):
        assert label in text, label
    assert f'href="/intake/{visit.pk}/"' in text and f'href="/results/{result.pk}/"' in text
    logged = set(AccessLog.objects.filter(user=supervisor, patient="Patient/riv").values_list("what", flat=True))
    assert {f"patient:{patient.pk}", f"intake:{visit.pk}", f"result:{result.pk}"} <= logged


def test_a_scheduler_sees_the_intake_and_result_items_but_gets_links_only_to_what_their_role_opens(
    client, north, rivera
):
    visit = intake_make(north, patient="riv")
    Intake.objects.filter(pk=visit.pk).update(source=source_make(SOURCE))
    sam = UserFactory(role=Role.SCHEDULER, sites=[north])
    client.force_login(sam)
    patient = patient_search(user=sam, name="Rivera")[0].patient
    text = client.get(reverse("workflow:patient_detail", args=[patient.pk])).content.decode()
    assert f"Intake {visit.pk}" in text and f'href="/intake/{visit.pk}/"' not in text
    assert "/referrals/" in text


def test_items_at_another_site_stay_hidden_until_the_glass_is_broken(client, north, south, rivera):
    ReferralFactory(site=south, patient_id="riv", specialty_display="Oncology")
    sam = UserFactory(role=Role.SCHEDULER, sites=[north])
    client.force_login(sam)
    patient = patient_search(user=sam, name="Rivera")[0].patient
    assert "Oncology" not in client.get(reverse("workflow:patient_detail", args=[patient.pk])).content.decode()
    # A South-only patient is not found, and their page is 404, until a grant.
    patient_make("south-only", family="Nakamura", given="Ken", mrn="MRN-321")
    ReferralFactory(site=south, patient_id="south-only")
    assert patient_search(user=sam, name="Nakamura") == []
    roles_sync()
    sam.groups.add(Group.objects.get(name=EMERGENCY_GROUP))
    sam = type(sam).objects.get(pk=sam.pk)  # fresh permission cache
    emergency_grant_open(user=sam, patient="MRN-321", reason="Unconscious in our ED, need history")
    sam = type(sam).objects.get(pk=sam.pk)
    [hit] = patient_search(user=sam, name="Nakamura")
    client.force_login(sam)
    assert client.get(reverse("workflow:patient_detail", args=[hit.patient.pk])).status_code == 200
    assert AccessLog.objects.filter(user=sam, patient="Patient/south-only", emergency=True).exists()


def test_roles_that_see_no_patients_cannot_search(client, north):
    for role in (Role.LEADER, Role.TERMINOLOGY_STEWARD, Role.INTEGRATION_ADMIN):
        client.force_login(UserFactory(role=role, sites=[north]))
        assert client.get(reverse("workflow:patient_search")).status_code == 403


def test_a_pick_token_names_the_patient_for_its_user_only_and_expires(north, rivera):
    sam = UserFactory(role=Role.SCHEDULER, sites=[north])
    other = UserFactory(role=Role.SCHEDULER, sites=[north])
    patient = patient_search(user=sam, name="Rivera")[0].patient
    token = patient_pick_token(user=sam, patient=patient)
    assert patient_from_pick(user=sam, token=token) == patient
    assert patient_from_pick(user=other, token=token) is None
    assert patient_from_pick(user=sam, token=token + "x") is None
    import time_machine

    with time_machine.travel(timezone.now() + timedelta(hours=3)):
        assert patient_from_pick(user=sam, token=token) is None
