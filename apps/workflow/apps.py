from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "apps.workflow"
    label = "workflow"
    verbose_name = "Work queues"

    def ready(self) -> None:
        from apps.core.navigation import NavEntry, nav_register

        nav_register(NavEntry("Patients", "workflow:patient_search", order=50, permission="core.view_patient_data"))
