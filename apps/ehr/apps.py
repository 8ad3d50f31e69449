from django.apps import AppConfig


class EhrConfig(AppConfig):
    name = "apps.ehr"
    label = "ehr"
    verbose_name = "EHR sync"

    def ready(self) -> None:
        from apps.core.navigation import NavEntry, nav_register

        nav_register(NavEntry("Integration", "ehr:console", order=80, permission="core.administer_integrations"))
