"""Fixtures for the ehr tests. Several test modules share these; add, don't rewrite."""

import pytest

from apps.ehr.services.sources import source_upsert

from .fhir_server import fhir_server, smart_fhir_server  # noqa: F401 - fixtures: a real FHIR server
from .network_guard import no_http_in_transaction as _guard


@pytest.fixture
def ehr_source(db):
    """An EHR source with a known webhook token: ``ehr_source.token``."""
    source, token = source_upsert(name="test-ehr", base_url="http://127.0.0.1:9/fhir")
    source.token = token
    return source


@pytest.fixture(autouse=True)
def no_http_in_transaction():
    """Every ehr test fails if the code sends an HTTP request while it holds a database
    transaction open (the inbox's fetch, polling, Bulk export, token fetch, the outbox)."""
    with _guard() as violations:
        yield violations
    if violations:
        pytest.fail("HTTP inside a database transaction:\n  " + "\n  ".join(violations), pytrace=False)
