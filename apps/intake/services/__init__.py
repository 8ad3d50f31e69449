"""Intake use cases: the staff's (``staff.py``), the EHR events' (``ehr.py``) and what both share
(``visit.py``), all through the workflow transition engine (``apps.workflow.transitions``)."""

from .config import intake_site_enable, intake_site_upsert
from .ehr import (
    APPOINTMENT_TYPE_SYSTEM,
    intake_arrive_from_ehr,
    intake_cancel_from_ehr,
    intake_check_by_ehr,
    intake_encounter_from_ehr,
    intake_no_show_from_ehr,
    intake_receive_appointment,
    intake_tick_from_ehr,
    intakes_known,
)
from .staff import (
    checklist_item_save,
    intake_cancel,
    intake_check_in,
    intake_check_set,
    intake_no_show,
    intake_outreach_record,
)
from .visit import checklist_sync, schedule_visit, settle, visit_day_start

__all__ = [
    "APPOINTMENT_TYPE_SYSTEM",
    "checklist_item_save",
    "checklist_sync",
    "intake_arrive_from_ehr",
    "intake_cancel",
    "intake_cancel_from_ehr",
    "intake_check_by_ehr",
    "intake_check_in",
    "intake_check_set",
    "intake_encounter_from_ehr",
    "intake_no_show",
    "intake_no_show_from_ehr",
    "intake_outreach_record",
    "intake_receive_appointment",
    "intake_site_enable",
    "intake_site_upsert",
    "intake_tick_from_ehr",
    "intakes_known",
    "schedule_visit",
    "settle",
    "visit_day_start",
]
