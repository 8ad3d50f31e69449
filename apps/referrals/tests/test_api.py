"""The referral API: the worklist with the page's filters and a cursor, one referral, one POST
per action; read-only state; errors mapped to 400/403/404/409; patient data access-logged."""

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.core.api_tokens import api_token_issue
from apps.core.models import AccessLog
from apps.core.roles import Role
from apps.referrals.models import Referral
from apps.referrals.workflow import State
from apps.workflow.models import Transition
from tests.plugins.referrals import ReferralFactory

pytestmark = pytest.mark.django_db
LIST = "/api/referrals/"


def action(referral, name):
    return reverse(f"referrals-api:{name}", kwargs={"pk": referral.pk})


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def sam(make_user):
    return make_user(Role.SCHEDULER, username="sam", first_name="Sam", last_name="Rivera")


@pytest.fixture
def as_sam(api, sam):
    api.force_authenticate(sam)
    return api


@pytest.mark.parametrize(("role", "status"), [(None, 401), (Role.LEADER, 403), (Role.INTEGRATION_ADMIN, 403),
                                              (Role.SCHEDULER, 200), (Role.SUPERVISOR, 200)])  # fmt: skip
def test_the_api_is_for_people_who_work_referrals(api, make_user, own_site, role, status):
    referral = ReferralFactory(site=own_site)
    if role:
        api.force_authenticate(make_user(role))
    assert api.get(LIST).status_code == status
    assert api.get(reverse("referrals-api:detail", args=[referral.pk])).status_code == status
    assert api.post(action(referral, "triage")).status_code == status


def test_a_token_works_too(api, sam, own_site):
    ReferralFactory(site=own_site)
    _, key = api_token_issue(user=sam, name="test", mfa_verified=True)
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert len(api.get(LIST).json()["results"]) == 1


def test_the_list_is_scoped_filtered_paged_by_cursor_and_logged(as_sam, sam, own_site, other_site):
    made = [ReferralFactory(site=own_site, patient__family=f"Fam{i}") for i in range(53)]
    ReferralFactory(site=other_site)
    ReferralFactory(site=own_site, priority="stat", patient=False)
    first = as_sam.get(LIST, {"sort": "oldest"}).json()
    assert len(first["results"]) == 50 and "cursor=" in first["next"] and "sort=oldest" in first["next"]
    second = as_sam.get(first["next"]).json()
    ids = [r["id"] for r in first["results"] + second["results"]]
    assert second["next"] is None and len(ids) == len(set(ids)) == 54
    row = first["results"][0]
    assert row["id"] == made[0].pk and row["state"] == "received" and row["sla_status"] == "on_track"
    assert row["patient"] == {
        "reference": made[0].patient_ref,
        "family": "Fam0",
        "given": "Pat",
        "birth_date": "1961-03-12",
    }
    assert row["site"] == "own" and row["assignee"] is None
    stat = as_sam.get(LIST, {"priority": "stat"}).json()["results"]
    assert [r["patient"] for r in stat] == [None]
    logged = AccessLog.objects.filter(user=sam, action="list")
    assert logged.count() == 53 and set(logged.values_list("path", flat=True)) == {LIST}


def test_a_bad_filter_is_a_400_that_names_the_field(as_sam):
    response = as_sam.get(LIST, {"priority": "soonish", "min_age_days": "-1"})
    assert response.status_code == 400
    assert set(response.json()) >= {"priority", "min_age_days"}


def test_the_detail_has_the_patient_service_request_outreach_and_allowed_actions(as_sam, sam, own_site, other_site):
    referral = ReferralFactory(site=own_site, patient__mrn="MRN-9")
    body = as_sam.get(reverse("referrals-api:detail", args=[referral.pk])).json()
    assert body["patient"]["mrn"] == "MRN-9" and body["service_request"]["versions_received"] == 1
    assert body["allowed_actions"] == ["cancel", "decline", "request_info", "triage"] and body["outreach"] == []
    log = AccessLog.objects.get()
    assert (log.action, log.patient, log.what) == ("view", referral.patient_ref, f"referral:{referral.pk}")
    assert as_sam.get(reverse("referrals-api:detail", args=[ReferralFactory(site=other_site).pk])).status_code == 404


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_state_queue_and_assignee_cannot_be_written_directly(as_sam, sam, own_site, method):
    referral = ReferralFactory(site=own_site)
    url = reverse("referrals-api:detail", args=[referral.pk])
    response = getattr(as_sam, method)(url, {"state": "completed", "queue": "done", "assignee": sam.pk}, format="json")
    assert response.status_code == 405
    assert as_sam.post(LIST, {"state": "completed"}, format="json").status_code == 405
    referral.refresh_from_db()
    assert (referral.state, referral.queue, referral.assignee) == (State.RECEIVED, "triage", None)


def test_an_action_ignores_a_state_in_its_body(as_sam, own_site):
    referral = ReferralFactory(site=own_site)
    response = as_sam.post(action(referral, "triage"), {"state": "completed"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "triage"
    assert response.json()["patient"] is None  # action answers carry no patient data


def test_the_workflow_through_the_api(as_sam, sam, own_site):
    referral = ReferralFactory(site=own_site)
    assert as_sam.post(action(referral, "claim")).json()["assignee"] == {"id": sam.pk, "name": "Sam Rivera"}
    as_sam.post(action(referral, "triage"))
    assert as_sam.post(action(referral, "accept"), {"note": "ok"}, format="json").json()["state"] == "accepted"
    assert as_sam.post(action(referral, "request_auth")).json()["state"] == "pending_auth"
    assert as_sam.post(action(referral, "authorize")).json()["queue"] == "scheduling"
    attempt = as_sam.post(action(referral, "outreach"), {"channel": "sms", "outcome": "no_answer"}, format="json")
    assert attempt.status_code == 201 and attempt.json()["by"]["name"] == "Sam Rivera"
    note = as_sam.post(action(referral, "notes"), {"text": "Texted twice"}, format="json")
    assert note.status_code == 201 and note.json()["text"] == "Texted twice"
    assert as_sam.post(action(referral, "release")).json()["assignee"] is None
    assert list(Transition.objects.filter(item_id=referral.pk).values_list("transition", flat=True)) == [
        "claim", "triage", "accept", "request_auth", "authorize", "release",
    ]  # fmt: skip


def test_the_paths_read_as_documented(own_site):
    referral = ReferralFactory(site=own_site)
    assert action(referral, "claim") == f"/api/referrals/{referral.pk}/claim"
    assert action(referral, "request_info") == f"/api/referrals/{referral.pk}/request-info"
    assert action(referral, "notes") == f"/api/referrals/{referral.pk}/notes"


def test_a_claim_someone_else_holds_is_a_409_naming_them(api, sam, make_user, own_site):
    referral = ReferralFactory(site=own_site, assignee=sam, claimed_at=timezone.now())
    api.force_authenticate(make_user(Role.SCHEDULER))
    response = api.post(action(referral, "claim"))
    at = timezone.localtime(referral.claimed_at, own_site.tzinfo).strftime("%H:%M")
    assert response.status_code == 409
    assert response.json() == {
        "code": "already_claimed", "detail": f"Already claimed by Sam Rivera at {at}.", "claimed_by": "Sam Rivera",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("accept", {}, 409, "transition_not_allowed"),  # still received: stale
        ("decline", {}, 400, None),  # the reason code is required
        ("decline", {"reason_code": "bored"}, 400, None),
        ("request_info", {"question": "  "}, 400, None),
        ("cancel", {}, 400, None),
        ("abandon", {}, 409, "too_early_to_abandon"),
        ("forward", {"service_line": "nowhere", "reason": "x"}, 400, "unknown_service_line"),
        ("outreach", {"channel": "pigeon", "outcome": "no_answer"}, 400, None),
        ("notes", {"text": ""}, 400, None),
    ],
)
def test_refused_actions_say_why(as_sam, own_site, name, data, status, code):
    referral = ReferralFactory(site=own_site)
    response = as_sam.post(action(referral, name), data, format="json")
    assert response.status_code == status, response.json()
    if code:
        assert response.json()["code"] == code and response.json()["detail"]
    assert Referral.objects.get().state == State.RECEIVED


def test_decline_with_a_coded_reason(as_sam, own_site):
    referral = ReferralFactory(site=own_site, state=State.TRIAGE)
    body = as_sam.post(action(referral, "decline"), {"reason_code": "no-capacity"}, format="json").json()
    assert body["state"] == "declined" and body["is_open"] is False
    assert Referral.objects.get().decline_reason == "no-capacity"


def test_reassign_and_move_are_for_supervisors(api, as_sam, make_user, own_site, other_site, sam):
    referral = ReferralFactory(site=own_site)
    denied = as_sam.post(action(referral, "reassign"), {"assignee": sam.pk}, format="json")
    assert denied.status_code == 403 and denied.json()["detail"] == "Only a supervisor can do that."
    assert as_sam.post(action(referral, "move"), {"queue": "scheduling"}, format="json").status_code == 403
    boss = make_user(Role.SUPERVISOR, sites=[own_site, other_site])
    api.force_authenticate(boss)
    assert (
        api.post(action(referral, "reassign"), {"assignee": sam.pk}, format="json").json()["assignee"]["id"] == sam.pk
    )
    stranger = make_user(Role.SCHEDULER, sites=[other_site])
    assert api.post(action(referral, "reassign"), {"assignee": stranger.pk}, format="json").status_code == 403
    assert api.post(action(referral, "reassign"), {"assignee": 999999}, format="json").status_code == 400
    assert api.post(action(referral, "move"), {"queue": "supervisor"}, format="json").json()["queue"] == "supervisor"
    assert api.post(action(referral, "move"), {"queue": "limbo"}, format="json").status_code == 400
    unfit = api.post(action(referral, "move"), {"queue": "scheduling"}, format="json")
    assert unfit.status_code == 409 and unfit.json()["code"] == "queue_does_not_fit"


def test_another_sites_referral_is_not_found_for_every_action(as_sam, other_site):
    referral = ReferralFactory(site=other_site)
    assert as_sam.post(action(referral, "claim")).status_code == 404
    assert as_sam.post(action(referral, "notes"), {"text": "hi"}, format="json").status_code == 404


def test_the_schema_documents_every_endpoint(as_sam):
    schema = as_sam.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert "/api/referrals/" in paths and "/api/referrals/{id}/" in paths
    for name in ["claim", "release", "accept", "decline", "request-info", "outreach", "notes", "reassign", "move"]:
        assert f"/api/referrals/{{id}}/{name}" in paths, name
    detail = paths["/api/referrals/{id}/"]
    assert set(detail) == {"get", "parameters"} or set(detail) == {"get"}
    state = schema["components"]["schemas"]["Referral"]["properties"]["state"]
    assert state.get("readOnly") is True
