"""A walk-in added to today's intake day by an MA: an intake like any other (walk-in checklist, the
day view), marked as entered by hand, due by the end of the day; bad input is a form error."""

from datetime import datetime, time, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.core.errors import ApplicationError
from apps.core.roles import Role
from apps.ehr.models import Appointment
from apps.intake.checklist import checklist_defaults_ensure
from apps.intake.models import Intake
from apps.intake.selectors import INTAKE_FACTS_SQL
from apps.intake.services.walk_in import intake_walk_in
from apps.intake.workflow import State
from apps.workflow.models import Transition
from apps.workflow.patients import patient_pick_token
from apps.workflow.sla import sla_status
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.referrals import patient_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def north():
    checklist_defaults_ensure()
    return SiteFactory(code="north", name="North Clinic", timezone="America/New_York")


@pytest.fixture
def maya(north):
    return UserFactory(role=Role.MEDICAL_ASSISTANT, sites=[north])


@pytest.fixture
def patient():
    return patient_make("walker", family="Walker", given="Jo", mrn="MRN-42")


def now_at(site):
    return timezone.localtime(timezone.now(), site.tzinfo)


def test_a_walk_in_is_an_intake_of_today_with_the_checklist_due_by_the_end_of_the_day(maya, north, patient):
    start = now_at(north)
    intake = intake_walk_in(patient=patient, site=north, start=start, by=maya)
    intake.refresh_from_db()
    assert intake.entered_by_hand and intake.state == State.PENDING and intake.is_open
    assert (intake.appointment_type, intake.appointment_type_display) == ("WALKIN", "Walk-in")
    assert intake.visit_date == start.date() and intake.patient_ref == "Patient/walker"
    assert intake.checks.count() >= 1
    end_of_day = datetime.combine(start.date() + timedelta(days=1), time.min, tzinfo=north.tzinfo)
    assert intake.due_at == end_of_day and sla_status(intake) != "overdue"  # not escalated the moment it exists
    appointment = Appointment.objects.get(pk=intake.appointment_id)
    assert appointment.fhir_id.startswith("clinops-") and appointment.patient_ref == "Patient/walker"
    assert appointment.raw["meta"]["tag"][0]["code"] == "entered-by-hand"
    log = Transition.objects.get(workflow="intake", item_id=intake.pk)
    assert (log.transition, log.actor, log.source) == ("entered_by_hand", maya, "staff")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT entered_by_hand FROM {INTAKE_FACTS_SQL} n WHERE n.id = %s", [intake.pk])  # noqa: S608
        assert bool(cursor.fetchone()[0]) is True


def test_walk_ins_are_for_today_at_the_mas_own_sites(maya, north, patient):
    with pytest.raises(ApplicationError):
        intake_walk_in(patient=patient, site=north, start=now_at(north) + timedelta(days=1), by=maya)
    with pytest.raises(PermissionDenied):
        intake_walk_in(patient=patient, site=SiteFactory(code="south"), start=timezone.now(), by=maya)
    with pytest.raises(PermissionDenied):
        intake_walk_in(patient=patient, site=north, start=timezone.now(),
                       by=UserFactory(role=Role.SCHEDULER, sites=[north]))  # fmt: skip
    assert not Intake.objects.exists()


def test_the_form_adds_the_walk_in_and_lands_on_todays_day_view_where_it_is_listed(client, maya, north, patient):
    client.force_login(maya)
    assert "Find the patient" in client.get(reverse("intake:walk_in")).content.decode()
    token = patient_pick_token(user=maya, patient=patient)
    form = client.get(reverse("intake:walk_in"), {"patient": token})
    assert form.status_code == 200 and "Walk-in for Walker, Jo" in form.content.decode()
    response = client.post(reverse("intake:walk_in"), {"patient": token, "site": "north", "time": "00:01"})
    assert response.status_code == 302 and response.url == f"{reverse('intake:day')}?site=north&day=today"
    intake = Intake.objects.get()
    day = client.get(response.url).content.decode()
    assert f"intake-{intake.pk}" in day and "Walker" in day and "Walk-in added to today" in day


def test_a_bad_time_or_site_is_a_form_error(client, maya, north, patient):
    client.force_login(maya)
    token = patient_pick_token(user=maya, patient=patient)
    bad_time = client.post(reverse("intake:walk_in"), {"patient": token, "site": "north", "time": "25:99"})
    assert bad_time.status_code == 400 and "Enter a time of day" in bad_time.content.decode()
    bad_site = client.post(reverse("intake:walk_in"), {"patient": token, "site": "south", "time": "10:00"})
    assert bad_site.status_code == 400
    assert not Intake.objects.exists()
