"""Referral use cases: the staff's (``staff.py``) and the EHR events' (``ehr.py``), all through
the workflow transition engine (``apps.workflow.transitions``)."""

from apps.workflow.transitions import EXCEPTIONS_QUEUE

from ..policy import referral_notify_referrer
from .ehr import (
    referral_appointment_from_ehr,
    referral_cancel_from_ehr,
    referral_encounter_from_ehr,
    referral_info_from_ehr,
    referral_link_task_from_ehr,
    referral_receive_from_ehr,
    referral_update_from_ehr,
    referrals_known,
)
from .routes import referral_route_upsert
from .staff import (
    ABANDON_AFTER_ATTEMPTS,
    allowed_actions,
    referral_abandon,
    referral_accept,
    referral_authorize,
    referral_cancel,
    referral_decline,
    referral_forward,
    referral_merge,
    referral_outreach_record,
    referral_receive_info,
    referral_request_auth,
    referral_request_info,
    referral_start_scheduling,
    referral_triage,
)

__all__ = [
    "ABANDON_AFTER_ATTEMPTS",
    "EXCEPTIONS_QUEUE",
    "allowed_actions",
    "referral_abandon",
    "referral_accept",
    "referral_appointment_from_ehr",
    "referral_authorize",
    "referral_cancel",
    "referral_cancel_from_ehr",
    "referral_decline",
    "referral_encounter_from_ehr",
    "referral_forward",
    "referral_info_from_ehr",
    "referral_link_task_from_ehr",
    "referral_merge",
    "referral_notify_referrer",
    "referral_outreach_record",
    "referral_receive_from_ehr",
    "referral_receive_info",
    "referral_request_auth",
    "referral_request_info",
    "referral_route_upsert",
    "referral_start_scheduling",
    "referral_triage",
    "referral_update_from_ehr",
    "referrals_known",
]
