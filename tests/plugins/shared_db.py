"""Data that several tests read, built once: for a module-scoped fixture whose build is expensive
(a simulated EHR history imported through the real services).

    @pytest.fixture(scope="module")
    def history(django_db_setup, django_db_blocker):
        yield from shared_data(django_db_blocker, build_the_history)

``build`` runs in a transaction that stays open while the module's tests run; each test's own
transaction (pytest-django's ``db``) nests in it as a savepoint, so a test's writes are rolled
back as usual and the next test sees the shared data exactly as built. After the module the
whole transaction is rolled back: the tests after it find the session's database untouched.
Only for tests that use ``db``: a ``transactional_db`` / ``live_server`` test commits and
flushes, which an open transaction does not allow (the plugin fails it with a clear message).
"""

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from django.db import DEFAULT_DB_ALIAS, transaction

T = TypeVar("T")
_open: list[str] = []  # the names of the shared data open now (for the message below)


def shared_data(django_db_blocker: Any, build: Callable[[], T], *, using: str = DEFAULT_DB_ALIAS) -> Iterator[T]:
    """Yields ``build()``'s result, built once in a transaction rolled back after the last test.
    The database is reachable only while building and rolling back, not in between (a test
    without ``db`` still cannot touch it)."""
    atomic = transaction.atomic(using=using)
    atomic._from_testcase = True  # like TestCase's outer transaction: a durable block inside is still allowed
    with django_db_blocker.unblock():
        atomic.__enter__()
        try:
            built = build()
        except BaseException:
            transaction.set_rollback(True, using=using)
            atomic.__exit__(None, None, None)
            raise
    _open.append(getattr(build, "__name__", "shared data"))
    try:
        yield built
    finally:
        _open.pop()
        with django_db_blocker.unblock():
            transaction.set_rollback(True, using=using)
            atomic.__exit__(None, None, None)


def refuse_transactional_inside_shared_data(item: pytest.Item) -> None:
    """A transactional test would commit into (and then flush) the shared data's transaction."""
    marker = item.get_closest_marker("django_db")
    transactional = bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    if _open and (transactional or {"transactional_db", "live_server"} & set(getattr(item, "fixturenames", ()))):
        pytest.fail(f"a transactional test cannot run while {_open[-1]!r} is open (move it to another module)")
