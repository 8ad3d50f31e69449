"""What other apps hear when codes become mapped.

``on_mapping_activated(callback)`` registers ``callback(system, codes)``, called once per
activation, after the activating transaction commits, with the source system's URI and the
frozenset of its codes that have a mapping now and had none before (absent, or not-mapped).
No app registers today: held work items are re-routed by the impact selectors
(``terminology.impact``, after commit), which cover more than newly mapped codes. The hook stays
for work that needs only the codes. Each callback runs on its own: one that raises is logged and
does not stop the others (``transaction.on_commit(..., robust=True)``).
"""

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

MappingActivated = Callable[[str, frozenset[str]], object]  # what it returns is ignored

_callbacks: list[MappingActivated] = []


def on_mapping_activated(callback: MappingActivated) -> MappingActivated:
    """Register ``callback(system, codes)``; registering the same callable twice keeps one. Usable as a decorator."""
    if callback not in _callbacks:
        _callbacks.append(callback)
    return callback


def mapping_activated_unregister(callback: MappingActivated) -> None:
    if callback in _callbacks:
        _callbacks.remove(callback)


def _runner(callback: MappingActivated, system: str, codes: frozenset[str]) -> Callable[[], None]:
    # A named function rather than functools.partial: Django's robust on_commit logs a failure
    # with the callable's __qualname__, which a partial does not have.
    def run() -> None:
        callback(system, codes)

    run.__qualname__ = f"on_mapping_activated:{getattr(callback, '__qualname__', repr(callback))}"
    return run


def review_announce(version: Any, *, by: Any) -> None:
    """A version went to review: the other stewards are told it waits for their approval (four
    eyes: not whoever submitted it). Through apps.core.events, in the submitting transaction."""
    from django.urls import reverse

    from apps.core.events import EventKind, StaffEvent, event_emit
    from apps.core.roles import Role

    event_emit(
        StaffEvent(
            kind=EventKind.MAPPING_REVIEW, title="A code mapping version waits for your approval",
            link=reverse("admin:terminology_conceptmapversion_change", args=[version.pk]),
            role=Role.TERMINOLOGY_STEWARD, exclude_user_ids=(by.pk,),
            dedupe_key=f"mapping_review:{version.pk}:{version.submitted_at:%Y%m%d%H%M%S}",
        )
    )  # fmt: skip


def mapping_activated_schedule(system: str, codes: frozenset[str]) -> None:
    """Called by the activation service inside its transaction: each callback runs after commit."""
    if not codes:
        return
    for callback in list(_callbacks):
        transaction.on_commit(_runner(callback, system, codes), robust=True)
