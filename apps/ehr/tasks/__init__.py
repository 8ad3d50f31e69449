"""Celery tasks of the ehr app: thin, take ids, call a service. Split by concern:
``inbox`` (processing and the sweeper), ``retention`` (daily pruning) and ``sync`` (polling and the outbox relay)."""

from .inbox import *  # noqa: F403
from .retention import *  # noqa: F403
from .sync import *  # noqa: F403
