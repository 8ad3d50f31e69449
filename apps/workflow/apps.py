from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "apps.workflow"
    label = "workflow"
    verbose_name = "Work queues"

    def ready(self) -> None:
        from apps.core.navigation import NavEntry, nav_register
        from apps.ehr.services.patient_merge import patient_merge_listener_register

        from .services import work_items_patient_move

        # A patient made from HL7 v2 merged into the EHR's FHIR record: the work items follow.
        patient_merge_listener_register(work_items_patient_move)

        nav_register(NavEntry("Patients", "workflow:patient_search", order=50, permission="core.view_patient_data"))
