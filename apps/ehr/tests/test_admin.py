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


def test_rotating_the_webhook_token_goes_through_the_service_and_shows_the_new_token_once(admin_client):
    from unittest import mock

    from apps.ehr.services import sources

    source, old_token = source_upsert(name="epic", base_url="https://ehr.example.org/fhir")
    other, other_token = source_upsert(name="cerner")
    url = reverse("admin:ehr_ehrsource_changelist")
    data = {"action": "rotate_webhook_token", "_selected_action": [source.pk]}
    with mock.patch("apps.ehr.admin.source_upsert", wraps=sources.source_upsert) as service:
        response = admin_client.post(url, data, follow=True)
    service.assert_called_once_with(name="epic", rotate_token=True)
    shown = [str(m) for m in response.context["messages"] if "shown once" in str(m)]
    assert len(shown) == 1
    new_token = shown[0].rsplit(": ", 1)[1]
    source.refresh_from_db()
    assert source.check_webhook_token(new_token) and not source.check_webhook_token(old_token)
    assert source.base_url == "https://ehr.example.org/fhir"  # nothing else changes
    other.refresh_from_db()
    assert other.check_webhook_token(other_token)  # only the chosen source rotates


def test_saving_a_source_in_the_admin_goes_through_the_service_and_keeps_its_token(admin_client):
    from unittest import mock

    from apps.ehr.services import sources

    source, token = source_upsert(name="epic", base_url="https://ehr.example.org/fhir")
    url = reverse("admin:ehr_ehrsource_change", args=[source.pk])
    with mock.patch("apps.ehr.admin.source_save", wraps=sources.source_save) as service:
        response = admin_client.post(url, form_data(source, base_url="https://ehr2.example.org/fhir"), follow=True)
    assert service.call_count == 1
    assert not [m for m in response.context["messages"] if "shown once" in str(m)]
    source.refresh_from_db()
    assert source.base_url == "https://ehr2.example.org/fhir" and source.check_webhook_token(token)


def test_the_mllp_settings_are_checked_before_they_are_saved(admin_client):
    source, _ = source_upsert(name="epic", base_url="https://ehr.example.org/fhir")
    url = reverse("admin:ehr_ehrsource_change", args=[source.pk])
    bad = form_data(source, mllp_port="2575", mllp_allowed_addresses='["10.0.0.300"]', v2_systems="{}")
    page = admin_client.post(url, bad).content.decode()
    assert "10.0.0.300 is not an IP address or network" in page
    good = form_data(
        source, mllp_port="2575", mllp_allowed_addresses='["10.0.0.5", "10.1.0.0/16"]',
        v2_systems='{"HOSP": "urn:oid:1.2.3"}',
    )  # fmt: skip
    assert admin_client.post(url, good).status_code == 302
    source.refresh_from_db()
    assert (source.mllp_port, source.mllp_allowed_addresses) == (2575, ["10.0.0.5", "10.1.0.0/16"])
    assert source.v2_systems == {"HOSP": "urn:oid:1.2.3"}
