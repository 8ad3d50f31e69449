from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "apps.referrals"
    label = "referrals"
    verbose_name = "Referrals"

    def ready(self) -> None:
        from apps.ehr.handlers import batch_handler_register, handler_register
        from apps.terminology.impact import impact_provider_register
        from apps.workflow.registry import workflow_register
        from apps.workflow.worklist import worklist_register

        from . import handlers
        from .impact import referral_impact, referrals_reroute
        from .models import Referral
        from .policy import ReferralPolicy
        from .worklist import REFERRAL_WORKLIST

        workflow_register(Referral, policy=ReferralPolicy())
        worklist_register(REFERRAL_WORKLIST)
        # The stewards' impact preview and the re-route on activation: one selection.
        impact_provider_register(referral_impact, reroute=referrals_reroute)
        batch_handler_register("ServiceRequest", handlers.on_service_requests)
        batch_handler_register("Task", handlers.on_tasks)
        batch_handler_register("Appointment", handlers.on_appointments)
        batch_handler_register("Encounter", handlers.on_encounters)
        handler_register("Appointment", handlers.on_appointment_freeing_a_slot)
        handler_register("Slot", handlers.on_slot)
        handler_register("Communication", handlers.on_communication)
        batch_handler_register("Task", handlers.on_task_inputs)
        handler_register("DocumentReference", handlers.on_document_reference)

        from apps.ehr.services.outbox import outbox_guard_register, outbox_listener_register

        from .services.booking import booking_outbox_result, booking_withdraw_guard

        outbox_listener_register("Appointment", booking_outbox_result)
        outbox_guard_register("Appointment", booking_withdraw_guard)

        from apps.core.navigation import NavEntry, nav_register

        nav_register(NavEntry("Referrals", "referrals:worklist", order=10, permission="core.work_referrals"))

        from apps.notifications.visits import visit_provider_register

        from .patient_visits import REFERRAL_VISITS

        visit_provider_register(REFERRAL_VISITS)  # reminders and the patient's links (apps.notifications)
