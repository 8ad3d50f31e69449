from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from apps.core.events import on_event

        from .services import staff_event_receive

        on_event(staff_event_receive)

        from apps.ehr.services.outbox import outbox_listener_register

        from .patient_actions import patient_cancel_outbox_result

        outbox_listener_register("Appointment", patient_cancel_outbox_result)
