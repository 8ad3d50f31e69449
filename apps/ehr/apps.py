from django.apps import AppConfig


class EhrConfig(AppConfig):
    name = "apps.ehr"
    label = "ehr"
    verbose_name = "EHR sync"

    def ready(self) -> None:
        from apps.core.emergency import emergency_patient_finder_register
        from apps.core.navigation import NavEntry, nav_register

        from .selectors import patient_refs_find

        # Break-glass grants name a patient; core finds it through ehr (core never imports ehr).
        emergency_patient_finder_register(patient_refs_find)

        nav_register(NavEntry("Integration", "ehr:console", order=80, permission="core.administer_integrations"))
