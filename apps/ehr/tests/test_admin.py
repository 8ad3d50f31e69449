"""Integration admins manage EHR sources in the admin; secrets are never shown back in full."""

import pytest
from django.urls import reverse

from apps.core.roles import Role
from apps.ehr.models import EhrSource
from apps.ehr.services.sources import source_upsert
from tests.plugins.core import UserFactory

pytestmark = pytest.mark.django_db
SECRET = "bearer-SECRET-9f8e7d6c5b4a"


@pytest.fixture
def admin_client(client, own_site):
    client.force_login(UserFactory(role=Role.INTEGRATION_ADMIN, sites=[own_site]))
    return client


def form_data(source, **changes):
    data = {
        "name": source.name, "base_url": source.base_url, "is_active": "on", "auth_type": "bearer",
        "client_id": "", "token_url": "", "key_id": "", "scope": source.scope, "poll_resource_types": "[]",
        "poll_interval_seconds": "300", "created_at_0": "2026-01-01", "created_at_1": "00:00:00",
        "poll_cursors-TOTAL_FORMS": "0", "poll_cursors-INITIAL_FORMS": "0",
        "bearer_token": "", "private_key_pem": "",
    }  # fmt: skip
    data.update(changes)
    return data


def test_a_stored_secret_is_never_shown_and_blank_keeps_it(admin_client):
    source, _ = source_upsert(name="epic", base_url="https://ehr.example.org/fhir")
    source.bearer_token = SECRET
    source.save()
    url = reverse("admin:ehr_ehrsource_change", args=[source.pk])
    page = admin_client.get(url).content.decode()
    assert SECRET not in page and "bearer token" in page  # says one is stored, not what it is
    assert admin_client.post(url, form_data(source)).status_code == 302
    assert EhrSource.objects.get().bearer_token == SECRET
    admin_client.post(url, form_data(source, bearer_token="new-token-123456"))
    assert EhrSource.objects.get().bearer_token == "new-token-123456"


def test_a_new_source_shows_its_webhook_token_once(admin_client):
    response = admin_client.post(
        reverse("admin:ehr_ehrsource_add"), form_data(EhrSource(name="cerner", scope="system/*.read")), follow=True
    )
    source = EhrSource.objects.get(name="cerner")
    shown = [str(m) for m in response.context["messages"] if "shown once" in str(m)]
    assert len(shown) == 1 and source.check_webhook_token(shown[0].rsplit(": ", 1)[1])
    listing = admin_client.get(reverse("admin:ehr_ehrsource_changelist")).content.decode()
    assert shown[0].rsplit(": ", 1)[1] not in listing and f"…{source.webhook_token_hint}" in listing


def test_other_roles_cannot_open_sources(client, own_site):
    client.force_login(UserFactory(role=Role.TERMINOLOGY_STEWARD, sites=[own_site]))
    assert client.get(reverse("admin:ehr_ehrsource_changelist")).status_code == 403
