from django.apps import AppConfig


class KpisConfig(AppConfig):
    name = "apps.kpis"
    label = "kpis"
    verbose_name = "KPI scorecards"

    def ready(self) -> None:
        from apps.core.navigation import NavEntry, nav_register

        from .definitions import (  # noqa: F401  (they register KPIs)
            capacity,
            intake,
            integration,
            log,
            money,
            offers,
            operations,
            overtime,
            referrals,
            results,
        )

        nav_register(NavEntry("Scorecard", "kpis:scorecard", order=80, permission="core.view_aggregates"))
