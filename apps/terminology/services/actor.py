"""The acting user for django-auditlog inside a service."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from auditlog.context import auditlog_value, set_actor


@contextmanager
def audit_actor(by: Any) -> Iterator[None]:
    """Record ``by`` as the actor of every change made inside, in a request or not.

    Inside a request ``AuditlogMiddleware`` has already set a context; auditlog's
    ``set_actor`` replaces it and does not put it back, so it is restored here afterwards.
    """
    if by is None:
        yield
        return
    previous = auditlog_value.get(None)
    try:
        with set_actor(by):
            yield
    finally:
        if previous is not None:
            auditlog_value.set(previous)
