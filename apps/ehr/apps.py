from django.apps import AppConfig


class EhrConfig(AppConfig):
    name = "apps.ehr"
    label = "ehr"
    verbose_name = "EHR sync"

    def ready(self) -> None:
        from apps.core.audit_report import audit_patient_directory_register
        from apps.core.emergency import emergency_patient_finder_register
        from apps.core.navigation import NavEntry, nav_register

        from .patient_directory import patients_describe, patients_match
        from .selectors import patient_refs_find

        # Break-glass grants name a patient; core finds it through ehr (core never imports ehr).
        emergency_patient_finder_register(patient_refs_find)
        # The audit report finds a patient by MRN, name or reference through ehr, the same way.
        audit_patient_directory_register(patients_match, patients_describe)

        nav_register(NavEntry("Integration", "ehr:console", order=80, permission="core.administer_integrations"))
