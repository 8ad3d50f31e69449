"""Celery tasks of the ehr app: thin, take ids, call a service. Split by concern:
``inbox`` (processing and the sweeper), ``retention`` (daily pruning), ``sync`` (polling and the
outbox relay) and ``v2`` (HL7 v2 application ACKs)."""

from .inbox import *  # noqa: F403
from .retention import *  # noqa: F403
from .sync import *  # noqa: F403
from .v2 import *  # noqa: F403
