"""After a transactional test (``transaction=True``, ``live_server``): the database back to the
session's starting rows, fast.

Django ends such a test with ``flush``: every table emptied (TRUNCATE on PostgreSQL, seconds on a
busy machine), then ``post_migrate`` (content types, permissions, role groups) and the reference
data loaded again through the services. Instead, the rows present when the session's database was
ready (about 650, in a dozen tables) are kept once, and after each such test every table is emptied
with DELETE and those rows are put back as they were (same ids). PostgreSQL keeps them in a schema of
the test database (``clinops_test_snapshot``) and copies them back server-side, with triggers off for
the copy (``session_replication_role = replica``: the append-only audit guards refuse DELETE); SQLite
keeps them in memory. If the restore cannot run (a database role that may not switch triggers off),
the test ends with Django's flush as before.

The restore also waits until the live server has finished the requests it is still answering
(a browser may leave one behind: the admin's last static file), so no request thread and the
reset share SQLite's in-memory connection at once ("database table is locked").
"""

import threading
import time
import warnings
from typing import Any

from django.core.signals import request_finished, request_started
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.test import TransactionTestCase

SCHEMA = "clinops_test_snapshot"

_tables: list[str] = []
_rows: dict[str, tuple[list[str], list[tuple]]] = {}  # SQLite: table -> (columns, rows)
_kept: list[str] = []  # PostgreSQL: the tables copied into SCHEMA
_django_fixture_teardown = TransactionTestCase._fixture_teardown

# --- the live server's requests in flight (threads other than the tests' own) ---
_in_flight: set[threading.Thread] = set()
_in_flight_lock = threading.Lock()


def _request_started(**kwargs: Any) -> None:
    if threading.current_thread() is not threading.main_thread():
        with _in_flight_lock:
            _in_flight.add(threading.current_thread())


def _request_finished(**kwargs: Any) -> None:
    with _in_flight_lock:
        _in_flight.discard(threading.current_thread())


def requests_drain(timeout: float = 10.0) -> None:
    """Wait until no live-server thread is still answering a request (at most ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _in_flight_lock:
            busy = [thread for thread in _in_flight if thread.is_alive()]
            _in_flight.intersection_update(busy)
        if not busy:
            return
        time.sleep(0.01)


def _quote(name: str) -> str:
    return connections[DEFAULT_DB_ALIAS].ops.quote_name(name)


def snapshot_take(using: str = DEFAULT_DB_ALIAS) -> None:
    """Keep the rows every table holds now (the session's starting data)."""
    connection = connections[using]
    _tables[:] = sorted(connection.introspection.django_table_names(only_existing=True, include_views=False))
    _rows.clear()
    _kept.clear()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            cursor.execute(f"CREATE SCHEMA {SCHEMA}")
        for table in _tables:
            cursor.execute(f"SELECT * FROM {_quote(table)}")  # noqa: S608 - table names from Django's introspection
            rows = cursor.fetchall()
            if not rows:
                continue
            if connection.vendor == "postgresql":
                cursor.execute(f"CREATE TABLE {SCHEMA}.{_quote(table)} AS TABLE {_quote(table)}")
                _kept.append(table)
            else:
                _rows[table] = ([column[0] for column in cursor.description], rows)


def snapshot_restore(using: str = DEFAULT_DB_ALIAS) -> None:
    """Every table back to the rows kept by ``snapshot_take`` (nothing else, nothing changed)."""
    connection = connections[using]
    requests_drain()
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        for table in _tables:
            cursor.execute(f"DELETE FROM {_quote(table)}")  # noqa: S608
        for table in _kept:
            cursor.execute(f"INSERT INTO {_quote(table)} SELECT * FROM {SCHEMA}.{_quote(table)}")  # noqa: S608
        for table, (columns, rows) in _rows.items():
            names = ", ".join(_quote(column) for column in columns)
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {_quote(table)} ({names}) VALUES ({marks})", rows)  # noqa: S608


def _fixture_teardown(self: TransactionTestCase) -> None:
    if (
        self.available_apps is not None
        or self.serialized_rollback
        or list(self._databases_names()) != [DEFAULT_DB_ALIAS]
    ):
        return _django_fixture_teardown(self)
    try:
        snapshot_restore()
    except Exception as exc:  # e.g. a role that may not set session_replication_role: Django's own flush
        warnings.warn(f"tests.plugins.db_reset: restore failed ({exc}); flushing instead", stacklevel=1)
        _django_fixture_teardown(self)


def install() -> None:
    """From now on a transactional test ends with ``snapshot_restore`` (call after ``snapshot_take``)."""
    request_started.connect(_request_started, dispatch_uid="tests.in_flight_started")
    request_finished.connect(_request_finished, dispatch_uid="tests.in_flight_finished")
    TransactionTestCase._fixture_teardown = _fixture_teardown  # type: ignore[method-assign]


def uninstall() -> None:
    TransactionTestCase._fixture_teardown = _django_fixture_teardown  # type: ignore[method-assign]
    request_started.disconnect(dispatch_uid="tests.in_flight_started")
    request_finished.disconnect(dispatch_uid="tests.in_flight_finished")
