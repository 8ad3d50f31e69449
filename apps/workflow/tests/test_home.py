"""The "my work" home at /: each role lands on what to do now."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.core.models import AccessLog
from apps.core.roles import Role
from apps.terminology.models import ConceptMapVersion
from apps.workflow.home import my_work
from apps.workflow.models import Priority
from tests.plugins.core import SiteFactory, UserFactory
from tests.plugins.intake import intake_make
from tests.plugins.referrals import ReferralFactory
from tests.plugins.results import result_make
from tests.plugins.terminology import matrix_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def north():
    return SiteFactory(code="north", name="North Clinic", timezone="America/New_York")


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


def test_a_schedulers_home_shows_claimed_items_most_urgent_first_queues_and_the_next_item(client, north):
    sam = UserFactory(role=Role.SCHEDULER, sites=[north])
    routine = ReferralFactory(site=north, assignee=sam, claimed_at=ago(hours=1), specialty_display="Dermatology")
    urgent = ReferralFactory(site=north, assignee=sam, claimed_at=ago(hours=1), priority=Priority.URGENT,
                             priority_rank=2, specialty_display="Cardiology")  # fmt: skip
    oldest = ReferralFactory(site=north, due_at=ago(days=3), warn_at=ago(days=4))
    ReferralFactory(site=north, due_at=ago(days=1), warn_at=ago(days=2))
    intake_make(north)  # not the scheduler's workflow: no intake queue on their home
    work = my_work(user=sam)
    assert [i.pk for i in work.claimed] == [urgent.pk, routine.pk]
    [triage] = [q for q in work.queues if q.queue == "triage"]
    assert (triage.workflow, triage.total, triage.overdue, triage.oldest_overdue.pk) == ("Referral", 4, 2, oldest.pk)
    assert {q.workflow for q in work.queues} == {"Referral"}
    assert work.next_item.pk == urgent.pk
    client.force_login(sam)
    page = client.get("/")
    text = page.content.decode()
    assert page.status_code == 200 and "My work" in text and "Open my next item" in text
    assert text.index(f"Referral {urgent.pk}") < text.index(f"Referral {routine.pk}")
    assert "/referrals/?site=north&amp;queue=triage" in text and "Find a patient" in text
    assert AccessLog.objects.filter(user=sam, what=f"referral:{urgent.pk}").exists()
    nxt = client.get(reverse("workflow:next_item"))
    assert nxt.status_code == 302 and nxt.url == reverse("referrals:detail", args=[urgent.pk])


def test_with_nothing_claimed_the_next_item_is_the_most_urgent_unclaimed_one_in_my_queues(client, north):
    maya = UserFactory(role=Role.MEDICAL_ASSISTANT, sites=[north])
    later = intake_make(north, days=3)
    sooner = intake_make(north, days=1)
    ReferralFactory(site=north)  # a scheduler's, not the MA's
    assert my_work(user=maya).next_item.pk == sooner.pk != later.pk
    client.force_login(maya)
    assert client.get(reverse("workflow:next_item")).url == reverse("intake:detail", args=[sooner.pk])


def test_the_next_item_passes_over_items_waiting_on_someone_else(client, north):
    """A STAT referral already booked (the EHR acts next) or held for a steward is not "next": the
    scheduler is sent to the routine one in triage, which has something to do now."""
    sam = UserFactory(role=Role.SCHEDULER, sites=[north])
    stat = {"priority": Priority.STAT, "priority_rank": 0}
    ReferralFactory(site=north, state="scheduled", queue="scheduled", **stat)
    ReferralFactory(site=north, state="needs_info", queue="waiting", **stat)
    ReferralFactory(site=north, queue="exceptions", **stat)
    routine = ReferralFactory(site=north)
    assert my_work(user=sam).next_item.pk == routine.pk
    client.force_login(sam)
    assert client.get(reverse("workflow:next_item")).url == reverse("referrals:detail", args=[routine.pk])


def test_nothing_waiting_sends_home_with_a_message(client, north):
    client.force_login(UserFactory(role=Role.SCHEDULER, sites=[north]))
    response = client.get(reverse("workflow:next_item"), follow=True)
    assert response.redirect_chain == [(reverse("workflow:home"), 302)]
    assert "Nothing is waiting for you right now." in response.content.decode()


def test_escalated_items_show_for_the_supervisor_and_for_the_clinician_they_went_to(north):
    sue = UserFactory(role=Role.SUPERVISOR, sites=[north])
    escalated = ReferralFactory(site=north, queue="supervisor", escalated_at=ago(hours=2), due_at=ago(hours=3))
    dr = UserFactory(role=Role.CLINICIAN, sites=[north])
    covering = result_make(north, assignee=dr, escalated_at=ago(minutes=5), state="escalated")
    assert [i.pk for i in my_work(user=sue).escalated] == [escalated.pk]
    assert my_work(user=sue).next_item.pk == escalated.pk
    dr_work = my_work(user=dr)
    assert [i.pk for i in dr_work.escalated] == [covering.pk] and dr_work.claimed == [] and dr_work.queues == []


def test_leaders_land_on_the_scorecard_and_integration_admins_on_the_console(client, north):
    client.force_login(UserFactory(role=Role.LEADER, sites=[north]))
    assert client.get("/").url == reverse("kpis:scorecard")
    client.force_login(UserFactory(role=Role.INTEGRATION_ADMIN, sites=[north]))
    assert client.get("/").url == reverse("ehr:console")


def test_a_steward_sees_the_unmapped_codes_and_the_reviews_they_may_approve(client, north):
    author = UserFactory(role=Role.TERMINOLOGY_STEWARD, sites=[north])
    version = ConceptMapVersion.objects.get(pk=matrix_version(state="in_review")(north)["pk"])
    ConceptMapVersion.objects.filter(pk=version.pk).update(submitted_by=author, author=author)
    reviewer = UserFactory(role=Role.TERMINOLOGY_STEWARD, sites=[north])
    client.force_login(reviewer)
    text = client.get("/").content.decode()
    assert "Terminology: waiting for you" in text and "unmapped code" in text
    assert reverse("admin:terminology_conceptmapversion_change", args=[version.pk]) in text
    client.force_login(author)  # four eyes: not their own
    assert "No map version is waiting for your review." in client.get("/").content.decode()


def test_the_site_cards_stay_reachable(client, north):
    client.force_login(UserFactory(role=Role.SCHEDULER, sites=[north]))
    assert 'href="/sites/"' in client.get("/").content.decode()
    cards = client.get(reverse("core:sites"))
    assert cards.status_code == 200 and "North Clinic" in cards.content.decode()
