"""HL7 v2 application ACK tasks (see apps.ehr.services.v2_app_ack): thin, take ids."""

import logging

from celery import shared_task

__all__ = ["hl7_app_ack_relay_task", "hl7_app_ack_send_task"]

logger = logging.getLogger(__name__)


@shared_task(name="ehr.hl7_app_ack_send")
def hl7_app_ack_send_task(ack_id: int) -> str:
    """Send one application ACK; safe to run twice (a sent or claimed one is left alone)."""
    from ..models import Hl7AppAck
    from ..services.v2_app_ack import hl7_app_ack_send

    try:
        return hl7_app_ack_send(ack_id=ack_id).status
    except Hl7AppAck.DoesNotExist:
        logger.warning("hl7 app ack %s no longer exists", ack_id)
        return "missing"


@shared_task(name="ehr.hl7_app_ack_relay")
def hl7_app_ack_relay_task() -> int:
    """Beat: queue every application ACK whose (next) attempt is due."""
    from ..services.v2_app_ack import hl7_app_ack_relay

    return hl7_app_ack_relay()
