from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Sites, people and access"

    def ready(self) -> None:
        from .roles import roles_sync_after_migrate

        # After every migrate (auth has created the permissions by then): the role groups
        # exist with exactly the permissions apps.core.roles gives them.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="core.roles_sync")

        from . import audit_chain

        audit_chain.connect()

        from .navigation import NavEntry, nav_register

        nav_register(NavEntry("Home", "core:home", order=0))
        nav_register(NavEntry("Admin", "admin:index", order=900, check=lambda user: user.is_staff))
        nav_register(NavEntry("Break-glass review", "core:emergency_review", 800, "core.review_emergency_access"))
        nav_register(NavEntry("Emergency access", "core:emergency_request", 810, "core.use_emergency_access"))
        nav_register(NavEntry("Audit", "core:audit_report", 820, "core.view_audit_report"))
