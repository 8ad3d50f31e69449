"""The results API: review, acknowledge, notify; errors as 400 / 403 / 409; documented in the schema."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.core.models import AccessLog
from apps.core.roles import Role
from apps.results.models import ResultItem
from apps.results.workflow import State
from tests.plugins.results import result_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def test_a_clinician_lists_the_inbox_and_reviews_through_the_api(api, make_user, own_site):
    dr = make_user(Role.CLINICIAN)
    item = result_make(own_site, criticality="critical", assignee=dr)
    api.force_authenticate(dr)
    body = api.get(reverse("results-api:list")).json()
    assert [r["id"] for r in body["results"]] == [item.pk] and body["results"][0]["criticality"] == "critical"
    assert AccessLog.objects.filter(user=dr, what=f"result:{item.pk}", action="list").exists()
    response = api.post(reverse("results-api:review", args=[item.pk]), {"follow_up": "appointment", "note": "Cardio"},
                        format="json")  # fmt: skip
    assert response.status_code == 200 and response.json()["state"] == "reviewed"
    again = api.post(reverse("results-api:review", args=[item.pk]), {"follow_up": "none"}, format="json")
    assert again.status_code == 409


def test_acknowledging_an_abnormal_result_in_bulk_is_a_409_and_changes_nothing(api, make_user, own_site):
    dr = make_user(Role.CLINICIAN)
    normal, abnormal = result_make(own_site, assignee=dr), result_make(own_site, criticality="abnormal")
    api.force_authenticate(dr)
    response = api.post(reverse("results-api:acknowledge"), {"items": [normal.pk, abnormal.pk]}, format="json")
    assert response.status_code == 409 and str(abnormal.pk) in response.content.decode()
    assert ResultItem.objects.filter(state=State.NEW).count() == 2


def test_an_id_beyond_the_database_range_is_a_clear_400(api, make_user, own_site):
    """Found by the API fuzzer: 2**63 reached SQLite and overflowed (a 500)."""
    dr = make_user(Role.CLINICIAN)
    normal = result_make(own_site, assignee=dr)
    api.force_authenticate(dr)
    response = api.post(reverse("results-api:acknowledge"), {"items": [normal.pk, 2**63]}, format="json")
    assert response.status_code == 400 and "items" in response.json()
    assert ResultItem.objects.get(pk=normal.pk).state == State.NEW


def test_an_ma_records_how_the_patient_was_told(api, make_user, own_site):
    ma = make_user(Role.MEDICAL_ASSISTANT)
    item = result_make(own_site, state=State.REVIEWED)
    api.force_authenticate(ma)
    bad = api.post(reverse("results-api:notify", args=[item.pk]), {"method": "carrier-pigeon"}, format="json")
    assert bad.status_code == 400
    ok = api.post(reverse("results-api:notify", args=[item.pk]), {"method": "phone"}, format="json")
    assert ok.status_code == 200 and ok.json()["state"] == "closed" and ok.json()["notification_method"] == "phone"


def test_the_results_api_is_in_the_openapi_schema(api, make_user):
    api.force_authenticate(make_user(Role.CLINICIAN))
    schema = api.get(reverse("api-schema"), HTTP_ACCEPT="application/json")
    paths = schema.json()["paths"] if schema["Content-Type"].startswith("application/json") else {}
    if not paths:
        import yaml

        paths = yaml.safe_load(schema.content)["paths"]
    assert "/api/results/{id}/review" in paths and "/api/results/acknowledge" in paths
    assert "/api/results/coverage" in paths
