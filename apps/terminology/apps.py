from django.apps import AppConfig


class TerminologyConfig(AppConfig):
    name = "apps.terminology"
    label = "terminology"
    verbose_name = "Terminology"

    def ready(self) -> None:
        from apps.core.navigation import NavEntry, nav_register

        from .workflow import STEWARD_PERMISSION

        # The admin's terminology section (its app index needs an argument, so the maps list).
        nav_register(
            NavEntry("Terminology", "admin:terminology_conceptmap_changelist", order=85, permission=STEWARD_PERMISSION)
        )
