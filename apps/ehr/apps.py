from django.apps import AppConfig


class EhrConfig(AppConfig):
    name = "apps.ehr"
    label = "ehr"
    verbose_name = "EHR sync"

    def ready(self) -> None:
        from apps.core.audit_report import audit_patient_directory_register
        from apps.core.emergency import emergency_patient_finder_register
        from apps.core.navigation import NavEntry, nav_register

        from .handlers import handler_register
        from .patient_directory import patients_describe, patients_match
        from .selectors import patient_refs_find
        from .services.patient_merge import patient_on_change

        # Break-glass grants name a patient; core finds it through ehr (core never imports ehr).
        emergency_patient_finder_register(patient_refs_find)
        # The audit report finds a patient by MRN, name or reference through ehr, the same way.
        audit_patient_directory_register(patients_match, patients_describe)

        # A FHIR Patient takes over the patients made from v2 with its identifiers (before any
        # workflow handler of the same change runs: they are registered after ehr's).
        handler_register("Patient", patient_on_change)
        nav_register(NavEntry("Integration", "ehr:console", order=80, permission="core.administer_integrations"))
