"""Work entered by hand (a referral that came by fax or phone, a walk-in visit): the store resource
that stands for it where an EHR event would have made one, and the item's first log row, with the
person who entered it.

The resource gets an id of clinops' own (``clinops-…``, never one an EHR uses) and a meta tag
saying it was entered by hand, so nobody takes it for the EHR's; the item is marked too
(``entered_by_hand``), which the scorecards can filter on.
"""

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core.models import User
from apps.ehr.models import STORE_MODELS, FhirResource
from apps.ehr.services.store import resource_upsert

from .models import Transition, TransitionSource
from .registry import workflow_policy
from .transitions import transition_record

LOCAL_ID_PREFIX = "clinops-"
ENTERED_BY_HAND_TAG = {
    "system": "http://clinops.example.org/fhir/CodeSystem/origin",
    "code": "entered-by-hand",
    "display": "Entered by hand in clinops",
}


def local_resource_store(*, source_id: int, resource_type: str, body: dict[str, Any]) -> FhirResource:
    """Store a resource made in clinops (version 1, tagged as entered by hand) and return its row."""
    now = timezone.now()
    fhir_id = f"{LOCAL_ID_PREFIX}{uuid.uuid4().hex}"
    meta = {"versionId": "1", "lastUpdated": now.isoformat(), "tag": [ENTERED_BY_HAND_TAG]}
    resource = {"resourceType": resource_type, "id": fhir_id, "meta": meta, **body}
    stored = resource_upsert(source_id=source_id, resource=resource, version_id="1", last_updated=now)
    return STORE_MODELS[resource_type].objects.get(pk=stored.row_id)


def item_enter(item: Any, *, by: User, transition: str, reason: str) -> Transition:
    """Save an item entered by hand (fields, queue and SLA set by the caller), log its first
    transition as the person's, and let its workflow tell the EHR like for any transition."""
    item.save()
    logged = transition_record(
        item, transition=transition, from_state="", by=by, source=TransitionSource.STAFF, reason=reason
    )
    policy = workflow_policy(item.WORKFLOW)
    policy.tell_ehr(item, logged)
    for work in policy.after_commit(item, logged):
        transaction.on_commit(work)
    return logged
