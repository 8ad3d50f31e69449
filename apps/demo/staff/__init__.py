"""Simulated staff, one module per workflow, acting only through that workflow's services.

A module here is named after the app whose work it does (``referrals.py`` for ``apps.referrals``)
and is imported only when that app is installed, so a branch without the app still runs. It
registers one function::

    # apps/demo/staff/results.py (when apps.results lands)
    from apps.results import services
    from . import StaffContext, staff_register

    @staff_register("result")
    def results_staff(ctx: StaffContext) -> Counter:
        for item in <open results of ctx.source_name no person has touched>:
            if not ctx.due(f"result:{item.pk}", item.opened_at):
                continue  # not yet: its seeded delay has not passed at ctx.now
            rng = ctx.rng(f"result:{item.pk}")   # the same decisions for the same item and seed
            worker = ctx.worker(item)             # a demo user allowed to work it
            services.result_review(...)           # services only; never the ORM directly
        return done  # a Counter of actions

The function must be idempotent (skip items a person already acted on) and decide only from
``ctx.rng(key)``, so a second run changes nothing. The services stamp ``timezone.now()``; the
history loader (apps/demo/history.py) runs every registered function at the end of each slice of
simulated time with the clock travelled there, so the actions carry realistic times.
"""

import importlib
import math
import pkgutil
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps as django_apps
from django.contrib.auth import get_user_model

from apps.core.scoping import site_ids_for
from apps.workflow.permissions import can

DEMO_WORKERS = ["scheduler", "ma", "clinician", "supervisor"]


@dataclass
class StaffContext:
    source_name: str
    seed: int = 1
    now: datetime | None = None  # the (travelled) present of a history slice; None: act on everything now
    median_delay_hours: float = 6.0  # how long an item waits for a person (lognormal)
    _workers: list | None = field(default=None, repr=False)

    def rng(self, key: str) -> random.Random:
        """A generator seeded by the run's seed and the item: the same item decides the same way."""
        return random.Random(f"{self.seed}:{key}")  # noqa: S311 - a simulation, not security

    def due(self, key: str, since: datetime) -> bool:
        """Whether a person would have got to the item by ``now``: a seeded lognormal delay after
        ``since``. Without ``now`` (``simulate_ehr --staff``) everything is due."""
        if self.now is None:
            return True
        delay = self.rng(f"{key}:delay").lognormvariate(math.log(self.median_delay_hours), 0.8)
        return since + timedelta(hours=delay) <= self.now

    def worker(
        self, item: Any, action: str = "work", among: tuple[str, ...] = tuple(DEMO_WORKERS), permission: str = ""
    ) -> Any | None:
        """The first demo user of ``among`` (in that order) allowed to ``action`` the item (or, given
        ``permission``, a member of its site holding that permission, e.g. core.review_results)."""
        if self._workers is None:
            users = {u.username: u for u in get_user_model().objects.filter(username__in=DEMO_WORKERS, is_active=True)}
            self._workers = [users[name] for name in DEMO_WORKERS if name in users]

        def allowed(user: Any) -> bool:
            if permission:
                return item.site_id in site_ids_for(user) and user.has_perm(permission)
            return can(user, item, action)

        return next((w for w in self._workers if w.username in among and allowed(w)), None)

    def due_after(self, key: str, since: datetime | None, median_hours: float) -> bool:
        """``due`` with a median delay of its own (a critical result is reviewed faster)."""
        if since is None:
            return False
        return replace(self, median_delay_hours=median_hours).due(key, since)


StaffFunction = Callable[[StaffContext], Counter]
_registry: dict[str, StaffFunction] = {}
_discovered = False


def staff_register(workflow: str) -> Callable[[StaffFunction], StaffFunction]:
    """Register ``function`` as the simulated staff of ``workflow`` (a decorator)."""

    def decorate(function: StaffFunction) -> StaffFunction:
        _registry[workflow] = function
        return function

    return decorate


def staff_workflows() -> list[str]:
    """The workflows with simulated staff, importing each module whose app is installed."""
    global _discovered
    if not _discovered:
        for module in pkgutil.iter_modules(__path__):
            if django_apps.is_installed(f"apps.{module.name}"):
                importlib.import_module(f"{__name__}.{module.name}")
        _discovered = True
    return sorted(_registry)


def staff_simulate(*, source_name: str, seed: int = 1, now: datetime | None = None) -> Counter:
    """Run every registered workflow's staff once; returns ``workflow:action`` counts."""
    ctx = StaffContext(source_name=source_name, seed=seed, now=now)
    done: Counter = Counter()
    for workflow in staff_workflows():
        for action, count in _registry[workflow](ctx).items():
            done[f"{workflow}:{action}"] += count
    return done
