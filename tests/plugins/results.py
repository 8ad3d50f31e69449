"""Result items made directly (not through the EHR feed), with the Patient in the store, and
the access-matrix helpers. For the EHR path, see ``ehr_feed.py``."""

from datetime import timedelta
from itertools import count
from typing import Any

from django.utils import timezone

from apps.core.roles import Role
from apps.results.models import ResultItem
from apps.results.workflow import CLOSED_STATES, PRIORITY_FOR, QUEUE_FOR_STATE, FollowUp, State
from apps.workflow.models import PRIORITY_RANK
from tests.plugins.core import UserFactory
from tests.plugins.ehr_store import source_make
from tests.plugins.referrals import patient_make

SOURCE = "results-test-ehr"
_ids = count(1)


def result_make(site: Any, *, criticality: str = "normal", state: str = State.NEW, patient: bool = True,
                **fields: Any) -> ResultItem:  # fmt: skip
    """An open result at ``site`` waiting for review (due in a day), its Patient in the store."""
    n = next(_ids)
    source = source_make(SOURCE)
    now = timezone.now()
    follow_up = fields.pop("follow_up", FollowUp.NOTIFY_ONLY if state != State.NEW else "")
    values = fields.pop("values", [{"ref": f"Observation/o{n}", "code": "http://loinc.org|2345-7", "display": "Glucose",
                                    "value": 5.2, "unit": "mmol/L", "low": 3.9, "high": 6.1, "range": "",
                                    "interpretation": "N", "status": "final"}])  # fmt: skip
    defaults = {
        "code": "http://loinc.org|2345-7",
        "code_display": "Glucose",
        "queue": QUEUE_FOR_STATE.get(state, "review"),
    }
    defaults.update(fields)
    item = ResultItem.objects.create(
        site=site,
        source=source,
        resource_type="Observation",
        resource_id=f"obs-{n}",
        fhir_status="final",
        criticality=criticality,
        priority=PRIORITY_FOR[criticality],
        priority_rank=PRIORITY_RANK[PRIORITY_FOR[criticality]],
        state=state,
        follow_up=follow_up,
        patient_ref=f"Patient/rp-{n}",
        values=values,
        due_at=now + timedelta(days=1),
        warn_at=now + timedelta(hours=12),
        is_open=state not in CLOSED_STATES,
        **defaults,
    )
    if patient:
        patient_make(f"rp-{n}", source=source, family=fields.get("ordering_ref", "") or f"Family{n}")
    return item


# --- the access matrix (tests/access_matrix.py) ----------------------------------------


def matrix_result(**fields: Any) -> Any:
    """kwargs(site) → ``{"pk": …}`` of a new result there."""
    return lambda site: {"pk": result_make(site, **fields).pk}


def matrix_coverage(site: Any) -> dict[str, Any]:
    """Someone else's coverage: ending it is refused (no such coverage of yours)."""
    from apps.results.models import Coverage

    owner = UserFactory(role=Role.CLINICIAN, sites=[site])
    other = UserFactory(role=Role.CLINICIAN, sites=[site])
    now = timezone.now()
    return {"pk": Coverage.objects.create(clinician=owner, covered_by=other, starts_at=now,
                                          ends_at=now + timedelta(days=1)).pk}  # fmt: skip


def matrix_claimed_result(site: Any) -> dict[str, Any]:
    """A result an MA of ``site`` has claimed to tell the patient: only a supervisor releases it."""
    holder = UserFactory(role=Role.MEDICAL_ASSISTANT, sites=[site])
    item = result_make(site, state=State.REVIEWED, assignee=holder, claimed_at=timezone.now())
    return {"pk": item.pk}
