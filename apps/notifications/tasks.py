"""Thin tasks: take ids, call a service. Retries live in the delivery rows, not in Celery."""

from celery import shared_task


@shared_task(name="notifications.email_send")
def email_send_task(delivery_id: int) -> str:
    """Send one email delivery; safe to run twice (a sent or claimed delivery is left alone)."""
    from .services import email_send

    return email_send(delivery_id=delivery_id)


@shared_task(name="notifications.email_relay")
def email_relay_task() -> int:
    """Beat: queue every delivery whose (next) attempt is due."""
    from .services import email_relay

    return email_relay()


@shared_task(name="notifications.digest_send")
def digest_send_task() -> int:
    """Beat: the email digests."""
    from .services import digest_send

    return digest_send()


@shared_task(name="notifications.integration_watch")
def integration_watch_task() -> int:
    """Beat: dead letters above the threshold, silent EHR feeds."""
    from .watch import integration_watch

    return integration_watch()


@shared_task(name="notifications.patient_reminders_plan")
def patient_reminders_plan_task() -> int:
    """Beat: plan the appointment reminders whose time has come."""
    from .reminders import patient_reminders_plan

    return patient_reminders_plan()


@shared_task(name="notifications.patient_message_send")
def patient_message_send_task(message_id: int) -> str:
    """Send one patient message; safe to run twice (a sent or claimed message is left alone)."""
    from .reminders import patient_message_send

    return patient_message_send(message_id=message_id)


@shared_task(name="notifications.patient_message_relay")
def patient_message_relay_task() -> int:
    """Beat: queue every patient message whose (next) attempt is due."""
    from .reminders import patient_message_relay

    return patient_message_relay()
