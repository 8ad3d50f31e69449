"""The test guard itself: an HTTP request inside a transaction the code opened fails, one
outside (or inside only the test's own transaction) goes through."""

import pytest
import requests
from django.db import transaction

from .fhir_server import fhir_json, tiny_server
from .network_guard import HttpInTransaction, no_http_in_transaction

pytestmark = pytest.mark.django_db


def test_a_request_inside_a_transaction_or_savepoint_is_refused_and_recorded():
    with tiny_server(lambda request: fhir_json(200, {})) as (url, seen), no_http_in_transaction() as violations:
        assert requests.get(f"{url}/fhir/metadata", timeout=5).status_code == 200  # the test's own transaction
        with transaction.atomic(), pytest.raises(HttpInTransaction):
            requests.get(f"{url}/fhir/Patient/p1?name=secret", timeout=5)
        with transaction.atomic(), transaction.atomic(), pytest.raises(HttpInTransaction):
            requests.post(f"{url}/auth/token", data={"grant_type": "client_credentials"}, timeout=5)
        assert requests.get(f"{url}/fhir/metadata", timeout=5).status_code == 200
    assert [r["path"] for r in seen] == ["/fhir/metadata", "/fhir/metadata"]  # the refused ones never left
    assert violations == [
        f"GET {url}/fhir/Patient/p1 inside a transaction on default",
        f"POST {url}/auth/token inside a transaction on default",
    ]
