"""Impact preview: what would change in the work queues if a version became active.

Terminology does not know the work items; each workflow app that routes on codes registers a
provider in its ``AppConfig.ready()``::

    impact_provider_register(referral_impact)

    def referral_impact(version: ConceptMapVersion) -> Iterable[QueueImpact]:
        # open referrals whose priority, queue or routing would change under ``version``
        ...

A provider gets the version (``selectors.version_diff(version)`` says which source codes it
adds, changes or removes) and returns one ``QueueImpact`` per queue with a count and a link
to the items. The version page in the admin shows what every provider returns; a provider
that fails is shown as failed (and logged), never as "no impact".
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueImpact:
    """Open items in one queue whose priority, queue or routing would change."""

    workflow: str  # e.g. "Referrals"
    queue: str  # e.g. "triage"
    count: int
    url: str = ""  # the list of those items
    what: str = ""  # e.g. "priority", "queue", "routing"


@dataclass(frozen=True)
class ImpactPreview:
    rows: list[QueueImpact] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    providers: int = 0

    @property
    def total(self) -> int:
        return sum(row.count for row in self.rows)


ImpactProvider = Callable[[Any], Iterable[QueueImpact]]

_providers: list[ImpactProvider] = []


def impact_provider_register(provider: ImpactProvider) -> ImpactProvider:
    """Register ``provider(version) -> Iterable[QueueImpact]``; twice keeps one. Usable as a decorator."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def impact_provider_unregister(provider: ImpactProvider) -> None:
    if provider in _providers:
        _providers.remove(provider)


def _name(provider: ImpactProvider) -> str:
    return f"{getattr(provider, '__module__', '?')}.{getattr(provider, '__qualname__', repr(provider))}"


def impact_preview(version: Any) -> ImpactPreview:
    """Ask every registered provider what ``version`` would change; failures are reported, not hidden."""
    rows: list[QueueImpact] = []
    failures: list[str] = []
    for provider in list(_providers):
        try:
            rows.extend(row for row in provider(version) if row.count)
        except Exception:
            logger.exception("impact provider %s failed for version %s", _name(provider), version.pk)
            failures.append(_name(provider))
    rows.sort(key=lambda row: (row.workflow, -row.count, row.queue))
    return ImpactPreview(rows=rows, failures=failures, providers=len(_providers))
