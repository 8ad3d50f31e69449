"""Impact of a version on open work items: the preview before it becomes active, and the
re-route when it does, from one selection.

Terminology does not know the work items; each workflow app that routes on codes registers,
in its ``AppConfig.ready()``, one selector and the re-route that goes with it::

    impact_provider_register(referral_impact, reroute=referrals_reroute)

    def referral_impact(version: ConceptMapVersion) -> Iterable[ImpactItem]:
        # open referrals whose routing would change under ``version``
        ...

    def referrals_reroute(version: ConceptMapVersion, item_ids: list[int]) -> int:
        # re-route those referrals (each locked and re-checked); returns how many changed
        ...

The version page shows what every selector returns, counted per queue, with a link to a page
listing exactly those items (``impact_items``). When the version becomes active, the same
selector runs again after the activating transaction commits and its items go to the re-route
(``impact_reroute_schedule``), so what is re-routed is what the preview listed. An item says
only what a steward may see (no patient data: stewards do not see patients). A selector that
fails is shown as failed (and logged), never as "no impact".
"""

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlencode

from django.db import transaction
from django.urls import reverse

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImpactItem:
    """One open work item that ``version`` would change, as a steward may see it."""

    workflow: str  # e.g. "Referrals"
    item_id: int
    queue: str  # the queue as staff name it, e.g. "Triage"
    site: str  # the site's name
    what: str  # what would change, e.g. "routing", "criticality"
    before: str  # e.g. "Cardiology"
    after: str  # e.g. "Dermatology", or "held for a person to route"


@dataclass(frozen=True)
class QueueImpact:
    """Open items in one queue that would change, and the page listing exactly them."""

    workflow: str
    queue: str
    count: int
    url: str = ""
    what: str = ""


@dataclass(frozen=True)
class ImpactPreview:
    rows: list[QueueImpact] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    providers: int = 0

    @property
    def total(self) -> int:
        return sum(row.count for row in self.rows)


Selector = Callable[[Any], Iterable[ImpactItem]]
Reroute = Callable[[Any, list[int]], int]


@dataclass(frozen=True)
class _Provider:
    select: Selector
    reroute: Reroute | None


_providers: list[_Provider] = []


def impact_provider_register(select: Selector, *, reroute: Reroute | None = None) -> Selector:
    """Register ``select(version) -> Iterable[ImpactItem]`` and the ``reroute(version, ids)`` that
    applies it on activation; registering the same selector again replaces it."""
    impact_provider_unregister(select)
    _providers.append(_Provider(select, reroute))
    return select


def impact_provider_unregister(select: Selector) -> None:
    _providers[:] = [p for p in _providers if p.select is not select]


def _name(function: Callable[..., Any]) -> str:
    return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', repr(function))}"


def _selected(version: Any) -> tuple[list[tuple[_Provider, list[ImpactItem]]], list[str]]:
    found, failures = [], []
    for provider in list(_providers):
        try:
            found.append((provider, list(provider.select(version))))
        except Exception:
            logger.exception("impact selector %s failed for version %s", _name(provider.select), version.pk)
            failures.append(_name(provider.select))
    return found, failures


def impact_items(version: Any, *, workflow: str = "", queue: str = "") -> tuple[list[ImpactItem], list[str]]:
    """Every open item ``version`` would change (optionally of one workflow and queue), and the
    selectors that failed; sorted by workflow, queue and item."""
    found, failures = _selected(version)
    items = [
        item
        for _, selected in found
        for item in selected
        if (not workflow or item.workflow == workflow) and (not queue or item.queue == queue)
    ]
    items.sort(key=lambda i: (i.workflow, i.queue, i.item_id))
    return items, failures


def impact_preview(version: Any) -> ImpactPreview:
    """The items every selector returns for ``version``, counted per workflow and queue."""
    items, failures = impact_items(version)
    counts = Counter((item.workflow, item.queue) for item in items)
    what: dict[tuple[str, str], set[str]] = {}
    for item in items:
        what.setdefault((item.workflow, item.queue), set()).add(item.what)
    base = reverse("admin:terminology_conceptmapversion_impact", args=[version.pk])
    rows = [
        QueueImpact(
            workflow=workflow,
            queue=queue,
            count=count,
            url=f"{base}?{urlencode({'workflow': workflow, 'queue': queue})}",
            what=", ".join(sorted(what[(workflow, queue)])),
        )
        for (workflow, queue), count in counts.items()
    ]
    rows.sort(key=lambda row: (row.workflow, -row.count, row.queue))
    return ImpactPreview(rows=rows, failures=failures, providers=len(_providers))


def impact_reroute(version_id: int) -> dict[str, int]:
    """After activation: every item the selectors list for the (now active) version goes to its
    workflow's re-route. Returns how many each workflow re-routed; a failure is logged and does
    not stop the other workflows."""
    from .models import ConceptMapVersion

    version = ConceptMapVersion.objects.select_related("map__source_system", "map__target_system").get(pk=version_id)
    moved: dict[str, int] = {}
    for provider in list(_providers):
        if provider.reroute is None:
            continue
        try:
            items = list(provider.select(version))
            if items:
                moved[items[0].workflow] = provider.reroute(version, [item.item_id for item in items])
        except Exception:
            logger.exception("impact re-route %s failed for version %s", _name(provider.select), version_id)
    if moved:
        logger.info("terminology: version %s re-routed %s", version_id, moved)
    return moved


def impact_reroute_schedule(version_id: int) -> None:
    """Called by the activation inside its transaction: the re-route runs after commit."""
    transaction.on_commit(partial(impact_reroute, version_id), robust=True)
