"""Events people should hear about, raised by any app without knowing who listens.

An app that notices something (an item assigned, an SLA about to be breached, a mapping waiting
for review, dead letters piling up) calls ``event_emit(StaffEvent(...))`` inside its own
transaction. Listeners (apps.notifications, in its ``AppConfig.ready()``) run at once, in that
transaction, so what they write commits or rolls back with the event. An event carries no patient
data: what kind of thing waits, for whom, and the path of its page behind sign-in.
"""

from collections.abc import Callable
from dataclasses import dataclass, field


class EventKind:
    ITEM_ASSIGNED = "item_assigned"
    ITEM_ESCALATED = "item_escalated"
    SLA_WARNING = "sla_warning"
    MAPPING_REVIEW = "mapping_review"
    DEAD_LETTERS = "dead_letters"
    FEED_SILENT = "feed_silent"
    WAITLIST_OFFER = "waitlist_offer"
    FRICTION = "friction"  # a friction report for a workflow one owns, or a reply to one's own

    ALL = (
        ITEM_ASSIGNED, ITEM_ESCALATED, SLA_WARNING, MAPPING_REVIEW, DEAD_LETTERS, FEED_SILENT, WAITLIST_OFFER, FRICTION,
    )  # fmt: skip


@dataclass(frozen=True)
class StaffEvent:
    """Something waiting for staff. Recipients: the users in ``user_ids``, or everyone with ``role``
    (at ``site_id`` when given), minus ``exclude_user_ids`` (e.g. whoever caused it)."""

    kind: str
    title: str  # what waits, in plain words and without patient data ("A critical result was escalated to you")
    link: str = ""  # a path on this site, behind sign-in
    user_ids: tuple[int, ...] = ()
    role: str = ""
    site_id: int | None = None
    exclude_user_ids: tuple[int, ...] = ()
    critical: bool = False  # always notified, whatever the preferences
    dedupe_key: str = ""  # repeats of the same key for the same person are collapsed
    extra: dict[str, str] = field(default_factory=dict)


Listener = Callable[[StaffEvent], object]
_listeners: list[Listener] = []


def on_event(listener: Listener) -> Listener:
    """Register a listener (once, however often it is registered)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def event_emit(event: StaffEvent) -> None:
    """Hand an event to every listener, in the caller's transaction."""
    for listener in list(_listeners):
        listener(event)
