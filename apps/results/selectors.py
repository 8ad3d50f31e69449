"""Reads of the results workflow: the clinician's inbox (grouped by criticality, oldest first),
the MAs' worklist (keyset pages through the shared worklist query), one result with its values
beside the patient's previous results of the same tests, and coverage."""

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from apps.core.scoping import scope_to_sites
from apps.core.sql_relations import sql_relation
from apps.ehr.models import Observation
from apps.workflow.selectors import Page, patients_attach, worklist_page

from .models import Coverage, ResultItem
from .workflow import TO_REVIEW, Criticality, State

MA_STEPS = {
    "escalated": (State.ESCALATED, "Escalated: review overdue"),
    "notify": (State.REVIEWED, "Tell the patient"),
    "follow_up": (State.PATIENT_NOTIFIED, "Book the follow-up"),
    "to_close": (State.FOLLOW_UP_SCHEDULED, "Follow-up booked: close"),
}
PREVIOUS = 3
INBOX_LIMIT = 300


@dataclass
class InboxGroup:
    criticality: str
    label: str
    items: list[ResultItem]


def result_inbox(*, user: Any) -> list[InboxGroup]:
    """Results waiting for this clinician's review, plus the unassigned pool of their sites,
    grouped critical → abnormal → normal, oldest first within a group."""
    qs = (
        scope_to_sites(ResultItem.objects.filter(state__in=TO_REVIEW, is_open=True), user)
        .filter(Q(assignee=user) | Q(assignee__isnull=True))
        .select_related("site", "assignee", "ordering_clinician")
        .order_by("priority_rank", "opened_at", "id")
    )
    items = patients_attach(list(qs[:INBOX_LIMIT]), user=user)
    groups = {c: InboxGroup(c, label, []) for c, label in Criticality.choices}
    for item in items:
        groups[item.criticality].items.append(item)
    return list(groups.values())


def result_worklist(*, user: Any, step: str, cursor: str | None = None, limit: int = 50) -> Page:
    """One keyset page of the MA's next step (notify, follow-up, to close) at the user's sites."""
    state = MA_STEPS.get(step, MA_STEPS["notify"])[0]
    page = worklist_page(model=ResultItem, user=user, filters={"state": state}, sort="priority", cursor=cursor,
                         limit=limit, select_related=("site", "assignee", "reviewed_by"))  # fmt: skip
    patients_attach(page.items, user=user)
    return page


def result_get(*, user: Any, item_id: int) -> ResultItem:
    """One result at the user's sites (404 elsewhere: another site's patients are invisible)."""
    item = (
        scope_to_sites(ResultItem.objects.all(), user)
        .select_related("site", "assignee", "ordering_clinician", "reviewed_by", "source")
        .filter(pk=item_id)
        .first()
    )
    if item is None:
        raise Http404("No such result at your sites.")
    patients_attach([item], user=user)
    return item


def result_values(*, item: ResultItem) -> list[dict[str, Any]]:
    """The item's values, each with up to three earlier results of the same test for the patient."""
    rows = []
    for value in item.values:
        earlier: QuerySet[Observation] = Observation.objects.none()
        if value.get("code") and item.patient_ref:
            earlier = (
                Observation.objects.filter(source_id=item.source_id, subject_ref=item.patient_ref, code=value["code"],
                                           deleted=False)
                .exclude(fhir_id=value["ref"].split("/", 1)[-1])
                .exclude(status="entered-in-error")
                .order_by("-issued", "-effective", "-id")
                .only("fhir_id", "issued", "effective", "value_number", "value_text", "value_unit", "interpretation")
            )[:PREVIOUS]  # fmt: skip
        rows.append({**value, "previous": list(earlier), "flag": _flag(value)})
    return rows


def _flag(value: dict[str, Any]) -> str:
    number, low, high = value.get("value"), value.get("low"), value.get("high")
    if not isinstance(number, int | float):
        return ""
    if low is not None and number < low:
        return "below range"
    if high is not None and number > high:
        return "above range"
    return "in range" if low is not None or high is not None else ""


def coverage_list(*, user: Any) -> QuerySet[Coverage]:
    """The user's current and future coverages, and those where they cover someone."""
    now = timezone.now()
    return (
        Coverage.objects.filter(Q(clinician=user) | Q(covered_by=user), ends_at__gt=now, cancelled_at__isnull=True)
        .select_related("clinician", "covered_by")
        .order_by("starts_at")
    )


def clinicians_at_sites(*, user: Any, site_ids: Any = None) -> QuerySet:
    """Active clinicians (review permission) at ``site_ids`` (default: the user's sites), not the user."""
    from django.contrib.auth import get_user_model

    from apps.core.scoping import site_ids_for

    return (
        get_user_model().objects.filter(is_active=True, sites__in=site_ids or site_ids_for(user))
        .filter(Q(groups__permissions__codename="review_results") | Q(user_permissions__codename="review_results"))
        .exclude(pk=user.pk)
        .distinct()
        .order_by("last_name", "first_name", "username")
    )  # fmt: skip


# --- for SQL readers (kpis) -----------------------------------------------------------

# Result items as an SQL relation (``JOIN {RESULT_FACTS_SQL} rc``; apps.core.sql_relations), one
# row per result item: ``id`` (the ``item_id`` of its transition-log rows) and ``criticality``
# (its current one: ``Criticality`` values, e.g. "critical", "abnormal").
RESULT_FACTS_SQL = sql_relation(ResultItem, id="id", criticality="criticality")
