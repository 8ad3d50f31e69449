"""The visits patients are reminded of, and what a patient's link may do to them.

Workflow apps sit above notifications, so each one that has visits (referrals, intake) registers
a ``VisitProvider`` in ``AppConfig.ready()``: its upcoming visits, one visit by id, and the
patient's confirm, cancel and questionnaire as services of its own (state changes through the
workflow engine, on the item's timeline). A provider raises ``VisitClosed`` when the visit can no
longer be changed online (cancelled, past, already moved)."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime


class VisitClosed(Exception):
    """The visit cannot be changed online any more: the page says so and gives the clinic's number."""


@dataclass(frozen=True)
class Visit:
    workflow: str
    item_id: int
    site_id: int
    source_id: int
    patient_ref: str
    start: datetime
    appointment_ref: str  # "Appointment/<id>" in the EHR ("" when it has none yet)
    questionnaire_open: bool = False  # the intake's checklist waits for the pre-visit questionnaire
    open: bool = True  # the visit may still be confirmed or cancelled online


@dataclass(frozen=True)
class VisitProvider:
    workflow: str
    upcoming: Callable[[datetime, datetime], Iterable[Visit]]  # visits starting in (after, until]
    get: Callable[[int], Visit | None]  # one open visit, or None
    confirm: Callable[[int], Visit]  # the patient will come (in the caller's transaction)
    cancel: Callable[[int], Visit]  # the patient cancels (state only: the EHR is told by the caller)
    questionnaire_done: Callable[[int, str], None] | None = None  # (item id, evidence) ticks the checklist


_providers: dict[str, VisitProvider] = {}


def visit_provider_register(provider: VisitProvider) -> None:
    """Register (or replace) the provider of one workflow's visits."""
    _providers[provider.workflow] = provider


def visit_providers() -> list[VisitProvider]:
    return list(_providers.values())


def visit_provider(workflow: str) -> VisitProvider | None:
    return _providers.get(workflow)
