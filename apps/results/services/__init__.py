"""Results follow-up use cases: the staff's (``staff.py``) and the EHR events' (``ehr.py``), all
through the workflow transition engine (``apps.workflow.transitions``)."""

from .config import clinician_link_upsert, result_site_upsert
from .ehr import (
    Event,
    ResultVersion,
    interpretation_for,
    result_receive_from_ehr,
    result_void_from_ehr,
    results_from_ehr,
)
from .staff import (
    coverage_cancel,
    coverage_set,
    criticality_set,
    result_close,
    result_notify,
    result_reassign,
    result_review,
    result_schedule_follow_up,
    result_take,
    results_acknowledge,
)

__all__ = [
    "Event",
    "ResultVersion",
    "clinician_link_upsert",
    "coverage_cancel",
    "coverage_set",
    "criticality_set",
    "interpretation_for",
    "result_close",
    "result_notify",
    "result_reassign",
    "result_receive_from_ehr",
    "result_review",
    "result_schedule_follow_up",
    "result_site_upsert",
    "result_take",
    "result_void_from_ehr",
    "results_acknowledge",
    "results_from_ehr",
]
