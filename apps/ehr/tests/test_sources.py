"""Writes for EHR sources (services/sources.py): a bearer token for the source's calls to the EHR."""

import pytest

from apps.ehr.models import EhrSource
from apps.ehr.services.extract import is_ref
from apps.ehr.services.sources import source_upsert

pytestmark = pytest.mark.django_db


def test_a_bearer_token_switches_the_source_to_bearer_auth_and_none_keeps_it():
    source_upsert(name="epic", base_url="https://ehr.example.org/fhir/", bearer_token="s3cret-token")
    source = EhrSource.objects.get()
    assert (source.auth_type, source.bearer_token, source.base_url) == (
        "bearer",
        "s3cret-token",
        "https://ehr.example.org/fhir",
    )
    source_upsert(name="epic", base_url="https://ehr2.example.org/fhir")
    source.refresh_from_db()
    assert (source.auth_type, source.bearer_token) == ("bearer", "s3cret-token")


def test_is_ref_accepts_only_stored_references():
    assert is_ref("Practitioner/p-1.2") and is_ref("Location/a", "Location")
    assert not any(
        [
            is_ref(""),
            is_ref("#c1"),
            is_ref("p1"),
            is_ref("http://x/Practitioner/p1"),
            is_ref("Location/a", "Practitioner"),
        ]
    )
