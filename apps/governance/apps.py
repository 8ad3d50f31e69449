from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "apps.governance"
    label = "governance"
    verbose_name = "Governance: owners, friction, rollout, workarounds"

    def ready(self) -> None:
        from apps.core.events import on_event
        from apps.core.navigation import NavEntry, nav_register
        from apps.kpis.panels import panel_register

        from . import kpis  # noqa: F401  (registers the friction and workaround KPIs)
        from .escalations import escalation_forward
        from .panels import owners_panel

        # Leaders only: a supervisor's menu is full at 1366 px; they reach governance from the
        # scorecard (its governance panel) and from their notifications.
        nav_register(
            NavEntry(
                "Governance",
                "governance:rollout",
                order=85,
                permission="core.view_aggregates",
                check=lambda user: not user.has_perm("core.supervise_queues"),
            )
        )
        panel_register(owners_panel)
        on_event(escalation_forward)
