"""A governed concept map for the demo, made the way stewards make one: through the services."""

from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from apps.terminology.models import ConceptMap, ConceptMapVersion
from apps.terminology.rows import Row
from apps.terminology.services import (
    concept_map_create,
    version_activate,
    version_approve,
    version_draft_create,
    version_edit,
    version_submit,
)

AUTHOR = "steward2"  # drafts and submits the demo maps' first versions
APPROVER = "steward"  # approves and activates them: four eyes
APPROVAL = "Demo content loaded by seed_demo."


def stewards() -> tuple[Any, Any] | None:
    """The demo's author and approver of map versions, or None before seed_demo has made them."""
    users = {user.username: user for user in get_user_model().objects.filter(username__in=[AUTHOR, APPROVER])}
    if AUTHOR not in users or APPROVER not in users:
        return None
    return users[AUTHOR], users[APPROVER]


def map_seed_active(
    *,
    name: str,
    title: str,
    description: str,
    source_system_url: str,
    target_system_url: str,
    rows: Sequence[Row],
    note: str,
    author: Any,
    approver: Any,
) -> ConceptMapVersion:
    """Create a map and make ``rows`` its active version 1: draft, edit and submit as ``author``,
    approve and activate as ``approver``. All or nothing; hooks run after the outer commit."""
    with transaction.atomic():
        concept_map: ConceptMap = concept_map_create(
            name=name,
            title=title,
            description=description,
            source_system_url=source_system_url,
            target_system_url=target_system_url,
            by=author,
        )
        draft = version_draft_create(map_id=concept_map.pk, by=author, note=note)
        version_edit(version_id=draft.pk, by=author, upserts=[(None, row) for row in rows])
        version_submit(version_id=draft.pk, by=author, comment=note)
        version_approve(version_id=draft.pk, by=approver, comment=APPROVAL)
        return version_activate(version_id=draft.pk, by=approver)
