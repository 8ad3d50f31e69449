"""One migration per test run, however many xdist workers: the first worker to get here migrates its
test database as usual and leaves a copy; every other worker's test database starts as that copy.

- SQLite (in memory): the copy is a file in the temp folder (``sqlite3`` backup API, both ways).
- PostgreSQL: the copy is a database, ``<test name>_template``; the others are created
  ``WITH TEMPLATE`` it (Django's TEST["TEMPLATE"]), a file copy instead of ~80 migrations.

The workers take turns through a file lock, so the second waits for the first's migration (which
then runs with the machine to itself). The controller removes the copy when the run ends. Only under
pytest-xdist and without ``--reuse-db``; a single process migrates as before. ``migrate``'s
post_migrate rows (content types, permissions, role groups) are in the copy, like everything else.
"""

import fcntl
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _base(path_name: str) -> Path:
    return Path(tempfile.gettempdir()) / f"clinops-test-db-{RUN}{path_name}"


@contextmanager
def _turn() -> Iterator[None]:
    with open(_base(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _template_name(test_name: str) -> str:
    return re.sub(r"_gw\d+$", "", test_name) + "_template"


@contextmanager
def _migrate_replaced_by(action: Any) -> Iterator[None]:
    """Inside create_test_db: ``migrate`` does ``action()`` instead; other commands run as usual."""
    import django.core.management as management

    call_command = management.call_command

    def call(name: Any, *args: Any, **options: Any) -> Any:
        if name == "migrate":
            return action()
        return call_command(name, *args, **options)

    management.call_command = call
    try:
        yield
    finally:
        management.call_command = call_command


def _create_test_db(original: Any) -> Any:
    def create_test_db(self: Any, verbosity: int = 1, autoclobber: bool = False, serialize: bool = True,
                       keepdb: bool = False) -> str:  # fmt: skip
        vendor = self.connection.vendor
        if keepdb or not RUN or self.connection.alias != DEFAULT_DB_ALIAS or vendor not in {"sqlite", "postgresql"}:
            return original(self, verbosity, autoclobber, serialize, keepdb)
        done = _base(".ready")
        with _turn():
            if not done.exists():
                name = original(self, verbosity, autoclobber, serialize, keepdb)
                _template_make(self.connection)
                done.touch()
                return name
            if vendor == "sqlite":
                with _migrate_replaced_by(lambda: _sqlite_copy_in(self.connection)):
                    return original(self, verbosity, autoclobber, serialize, keepdb)
            test = self.connection.settings_dict["TEST"]
            test["TEMPLATE"] = _template_name(self._get_test_db_name())
            try:
                with _migrate_replaced_by(lambda: None):
                    return original(self, verbosity, autoclobber, serialize, keepdb)
            finally:
                del test["TEMPLATE"]

    return create_test_db


def _template_make(connection: Any) -> None:
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        copy = sqlite3.connect(_base(".sqlite3"))
        try:
            connection.connection.backup(copy)
        finally:
            copy.close()
        return
    template = connection.ops.quote_name(_template_name(connection.settings_dict["NAME"]))
    source = connection.ops.quote_name(connection.settings_dict["NAME"])
    connection.close()  # a template must have no other session
    with connection._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {template}")
        cursor.execute(f"CREATE DATABASE {template} WITH TEMPLATE {source}")


def _sqlite_copy_in(connection: Any) -> None:
    connection.ensure_connection()
    copy = sqlite3.connect(_base(".sqlite3"))
    try:
        copy.backup(connection.connection)
    finally:
        copy.close()


def install() -> None:
    """Workers: create_test_db takes turns and copies (before pytest-django's django_db_setup)."""
    from django.db.backends.base.creation import BaseDatabaseCreation

    if RUN and WORKER and not getattr(BaseDatabaseCreation.create_test_db, "_clinops", False):
        patched = _create_test_db(BaseDatabaseCreation.create_test_db)
        patched._clinops = True  # type: ignore[attr-defined]
        BaseDatabaseCreation.create_test_db = patched  # type: ignore[method-assign]


def remove(run: str) -> None:
    """Controller, at the end of the run: the copy goes (file, or template database)."""
    for suffix in (".sqlite3", ".ready", ".lock"):
        (Path(tempfile.gettempdir()) / f"clinops-test-db-{run}{suffix}").unlink(missing_ok=True)
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        return
    name = connection.settings_dict.get("TEST", {}).get("NAME") or f"test_{connection.settings_dict['NAME']}"
    with connection._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(_template_name(name))}")
