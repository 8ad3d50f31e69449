"""A test guard for the rule "no network inside a database transaction": an HTTP request made
while code holds a transaction open fails the test.

Every HTTP call the project makes goes through ``requests`` (the EHR client in apps.ehr.client,
its token fetch and Bulk downloads, the demo's webhook feed), so the guard sits on the transport
every ``requests.Session`` sends through. The transaction a pytest-django test runs in (and the
one of the test class) is not the code's own and does not count; any other ``atomic`` block,
savepoints included, does.

The violation is raised at the request (so the call does not happen) and also reported when the
test ends: the code under test may catch the error and record it as a failed call.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import requests.adapters
from django.db import connections


class HttpInTransaction(AssertionError):
    """An HTTP request was sent while a database transaction was open."""


def open_transactions() -> list[str]:
    """Aliases of the connections (of this thread) inside a transaction the code opened."""
    return [
        conn.alias
        for conn in connections.all(initialized_only=True)
        if any(not getattr(block, "_from_testcase", False) for block in conn.atomic_blocks)
    ]


@contextmanager
def no_http_in_transaction() -> Iterator[list[str]]:
    """Within the block, an HTTP request sent inside a transaction raises ``HttpInTransaction``;
    yields the list of violations (also checked by the ``no_http_in_transaction`` fixture)."""
    violations: list[str] = []
    send = requests.adapters.HTTPAdapter.send

    def guarded_send(adapter, request, *args, **kwargs):
        aliases = open_transactions()
        if aliases:
            what = f"{request.method} {request.url.split('?')[0]} inside a transaction on {', '.join(aliases)}"
            violations.append(what)
            raise HttpInTransaction(f"HTTP request sent inside a database transaction: {what}")
        return send(adapter, request, *args, **kwargs)

    requests.adapters.HTTPAdapter.send = guarded_send
    try:
        yield violations
    finally:
        requests.adapters.HTTPAdapter.send = send
