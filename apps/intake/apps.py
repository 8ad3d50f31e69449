from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "apps.intake"
    label = "intake"
    verbose_name = "Pre-visit intake"

    def ready(self) -> None:
        from apps.core.navigation import NavEntry, nav_register
        from apps.ehr.handlers import batch_handler_register, handler_register
        from apps.workflow.registry import workflow_register
        from apps.workflow.worklist import worklist_register

        from . import handlers
        from .models import Intake
        from .policy import IntakePolicy
        from .worklist import INTAKE_WORKLIST

        workflow_register(Intake, policy=IntakePolicy())
        worklist_register(INTAKE_WORKLIST)
        batch_handler_register("Appointment", handlers.on_appointments)
        batch_handler_register("Encounter", handlers.on_encounters)
        handler_register("QuestionnaireResponse", handlers.on_questionnaire_response)
        handler_register("DocumentReference", handlers.on_document_reference)
        nav_register(NavEntry("Intake", "intake:day", order=20, permission="core.work_intake"))
        nav_register(NavEntry("Pre-visit worklist", "intake:worklist", order=22, permission="core.work_intake"))

        from apps.notifications.visits import visit_provider_register

        from .patient_visits import INTAKE_VISITS

        visit_provider_register(INTAKE_VISITS)  # reminders and the patient's links (apps.notifications)
