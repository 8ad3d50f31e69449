"""Worklist reads: filtered, site-scoped, keyset-paginated; queue counts; an item's timeline;
the store Patient of each listed item."""

import base64
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.core.models import Site
from apps.core.roles import can_see_patient_data
from apps.core.scoping import scope_to_sites, site_list_for
from apps.core.sql_relations import sql_relation
from apps.ehr.models import Patient

from .models import PRIORITY_RANK, Note, Outreach, SiteCalendar, Transition, WorkItem

SORTS: dict[str, tuple[str, ...]] = {
    "priority": ("priority_rank", "due_at", "id"),
    "due": ("due_at", "id"),
    "oldest": ("opened_at", "id"),
    "newest": ("-opened_at", "-id"),
}
DATETIME_KEYS = {"due_at", "opened_at"}


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None
    sort: str


def _encode(values: list[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode(cursor: str, keys: tuple[str, ...]) -> list[Any] | None:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        return None
    if not isinstance(values, list) or len(values) != len(keys):
        return None
    out = []
    for key, value in zip(keys, values, strict=True):
        if key.lstrip("-") in DATETIME_KEYS:
            value = parse_datetime(value) if isinstance(value, str) else None
            if value is None:
                return None
        out.append(value)
    return out


def _after(qs: QuerySet, keys: tuple[str, ...], values: list[Any]) -> QuerySet:
    """Rows strictly after ``values`` in the order of ``keys``: a row-value comparison, which
    PostgreSQL (and SQLite) answer with an index range scan instead of a chain of ORs."""
    model = qs.model
    table = connection.ops.quote_name(model._meta.db_table)
    fields = [model._meta.get_field(k.lstrip("-")) for k in keys]
    columns = ", ".join(f"{table}.{connection.ops.quote_name(f.column)}" for f in fields)
    operator = "<" if keys[0].startswith("-") else ">"
    params = [f.get_db_prep_value(v, connection) for f, v in zip(fields, values, strict=True)]
    placeholders = ", ".join(["%s"] * len(keys))
    # Identifiers come from the model's metadata, quoted; the cursor's values are parameters.
    return qs.extra(where=[f"({columns}) {operator} ({placeholders})"], params=params)  # noqa: S610


def worklist_filter(qs: QuerySet, filters: dict[str, Any], *, user: Any, now: datetime | None = None) -> QuerySet:
    """Apply worklist filters; unknown or empty values are ignored (the form validates them)."""
    now = now or timezone.now()
    if site := filters.get("site"):
        qs = qs.filter(site__code=site)
    if queue := filters.get("queue"):
        qs = qs.filter(queue=queue)
    if priority := filters.get("priority"):
        qs = qs.filter(priority=priority)
        if priority in PRIORITY_RANK:  # the same rows; lets the keyset index range-scan one priority
            qs = qs.filter(priority_rank=PRIORITY_RANK[priority])
    if state := filters.get("state"):
        qs = qs.filter(state=state)
    assignee = filters.get("assignee")
    if assignee == "me":
        qs = qs.filter(assignee=user)
    elif assignee == "unassigned":
        qs = qs.filter(assignee__isnull=True)
    elif isinstance(assignee, int) or (isinstance(assignee, str) and assignee.isdigit()):
        qs = qs.filter(assignee_id=int(assignee))
    due = filters.get("due")
    if due == "overdue":
        qs = qs.filter(due_at__lte=now, sla_paused_at__isnull=True)
    elif due == "due_soon":
        qs = qs.filter(warn_at__lte=now, due_at__gt=now, sla_paused_at__isnull=True)
    if (age := filters.get("min_age_days")) not in (None, ""):
        qs = qs.filter(opened_at__lte=now - timedelta(days=int(age)))
    return qs


def worklist_page(
    *,
    model: type[WorkItem],
    user: Any,
    filters: dict[str, Any],
    sort: str = "priority",
    cursor: str | None = None,
    limit: int = 50,
    open_only: bool = True,
    select_related: tuple[str, ...] = ("site", "assignee", "service_line"),
    known: Iterable[Any] = (),
) -> Page:
    """One page of the user's worklist: only their sites; a fixed number of queries per page."""
    sort = sort if sort in SORTS else "priority"
    keys = SORTS[sort]
    qs = scope_to_sites(model.objects.all(), user)
    if open_only:
        qs = qs.filter(is_open=True)
    qs = worklist_filter(qs, filters, user=user).order_by(*keys)
    if cursor and (values := _decode(cursor, keys)) is not None:
        qs = _after(qs, keys, values)
    # No join in the page's query: with none, PostgreSQL walks the sort order's index and stops after
    # a page whatever it estimates (a join let a poor estimate of the cursor's row comparison pick a
    # hash join and a sort of every later row). The related rows are attached after.
    rows = list(qs[: limit + 1])
    related_attach(rows, select_related, user=user, known=known)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = _encode([getattr(last, k.lstrip("-")) for k in keys])
    return Page(items=rows, next_cursor=next_cursor, sort=sort)


def related_attach(items: list[Any], names: Iterable[str], *, user: Any, known: Iterable[Any] = ()) -> None:
    """Set each item's foreign keys ``names`` (``site``, ``assignee``, …) from the user's own sites
    and the ``known`` objects the caller already holds (e.g. the people who work the list); one
    query per related model for any others (none when every key is empty or known)."""
    if not items:
        return
    model = type(items[0])
    by_model: dict[Any, list[Any]] = defaultdict(list)
    for name in names:
        by_model[model._meta.get_field(name).related_model].append(model._meta.get_field(name))
    for related, fields in by_model.items():
        wanted = {getattr(item, f.attname) for f in fields for item in items} - {None}
        held = {obj.pk: obj for obj in (site_list_for(user) if related is Site else known) if type(obj) is related}
        missing = wanted - held.keys()
        if missing:  # e.g. an item at another site shown under an emergency grant, a former assignee
            held.update(related._default_manager.in_bulk(missing))
        for item in items:
            for f in fields:
                key = getattr(item, f.attname)
                f.set_cached_value(item, held.get(key) if key is not None else None)


def queue_counts(*, model: type[WorkItem], user: Any, now: datetime | None = None) -> list[dict[str, Any]]:
    """Open items per site and queue, with how many are overdue and unassigned."""
    now = now or timezone.now()
    qs = scope_to_sites(model.objects.filter(is_open=True), user)
    return list(
        qs.values("site__code", "site__name", "queue")
        .annotate(
            # site_id, not id: every column the counts read is in the ref_open_counts index.
            total=Count("site"),
            overdue=Count("site", filter=Q(due_at__lte=now, sla_paused_at__isnull=True)),
            unassigned=Count("site", filter=Q(assignee__isnull=True)),
        )
        .order_by("site__name", "queue")
    )


def timeline(*, item: WorkItem, extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Transitions, notes and (from the workflow) EHR events of one item, oldest first."""
    events: list[dict[str, Any]] = []
    for t in Transition.objects.filter(workflow=item.WORKFLOW, item_id=item.pk).select_related("actor"):
        events.append({"at": t.at, "kind": "transition", "transition": t})
    for n in Note.objects.filter(workflow=item.WORKFLOW, item_id=item.pk).select_related("author"):
        events.append({"at": n.at, "kind": "note", "note": n})
    events.extend(extra or [])
    return sorted(events, key=lambda e: e["at"])


# --- the patient of each item -----------------------------------------------------------

PATIENT_FIELDS = ("id", "source_id", "fhir_id", "family", "given", "birth_date", "gender", "mrn")


def store_id(reference: str, resource_type: str) -> str:
    """``Patient/123`` (or an absolute URL ending in it) → ``123``; anything else → ``""``."""
    head, _, tail = reference.rpartition("/")
    return tail if head.rsplit("/", 1)[-1] == resource_type and tail else ""


def patient_reference(reference: str) -> str:
    """An item's ``patient_ref`` as the store keys it (``Patient/<id>``), or ``""``."""
    fhir_id = store_id(reference, "Patient")
    return f"Patient/{fhir_id}" if fhir_id else ""


def patients_for(items: Iterable[Any]) -> dict[tuple[int, str], Patient]:
    """The store's Patient of each item (``source_id`` + ``patient_ref``), keyed by (source id,
    ``Patient/<id>``): one query in all, none when no item names a patient."""
    wanted: dict[int, set[str]] = defaultdict(set)
    for item in items:
        if fhir_id := store_id(item.patient_ref, "Patient"):
            wanted[item.source_id].add(fhir_id)
    if not wanted:
        return {}
    condition = Q()
    for source_id, ids in wanted.items():
        condition |= Q(source_id=source_id, fhir_id__in=sorted(ids))
    rows = Patient.objects.filter(condition, deleted=False).only(*PATIENT_FIELDS)
    return {(p.source_id, f"Patient/{p.fhir_id}"): p for p in rows}


def patients_attach(items: list[Any], *, user: Any) -> list[Any]:
    """Set ``item.patient`` (the store Patient, or None when it has not arrived) on each item, in one
    query; None on every item for users who may not see patients. Returns the items."""
    found = patients_for(items) if can_see_patient_data(user) else {}
    for item in items:
        item.patient = found.get((item.source_id, patient_reference(item.patient_ref)))
    return items


def patient_get(item: Any, *, user: Any) -> Patient | None:
    """The store Patient of one item (None when it has not arrived or the user may not see patients)."""
    return patients_attach([item], user=user)[0].patient


# --- for SQL readers (kpis) -----------------------------------------------------------

# The transition log as an SQL relation (``FROM {TRANSITION_LOG_SQL} t``; apps.core.sql_relations),
# one row per logged change: ``id``; ``workflow`` ("referral", "intake", "result") and ``item_id``
# (the work item's id in that workflow); ``site_id`` and ``service_line_id`` (NULL: none) of the
# item then; ``transition`` (the verb, or claim/release/reassign/escalate), ``to_state``, ``queue``;
# ``at`` (UTC, the event time); ``actor_role`` (the acting staff role, '' for none) and ``source``
# (staff, ehr, timer, system). Rows are only ever added.
TRANSITION_LOG_SQL = sql_relation(
    Transition,
    id="id",
    workflow="workflow",
    item_id="item_id",
    site_id="site",
    service_line_id="service_line",
    transition="transition",
    to_state="to_state",
    queue="queue",
    at="at",
    actor_role="actor_role",
    source="source",
)

# Notes and outreach notes as SQL relations (apps.governance looks for words that suggest work
# done outside clinops): ``workflow``, ``item_id``, ``site_id``, ``at`` (UTC) and ``text``.
NOTES_SQL = sql_relation(Note, id="id", workflow="workflow", item_id="item_id", site_id="site", at="at", text="text")
OUTREACH_NOTES_SQL = sql_relation(
    Outreach, id="id", workflow="workflow", item_id="item_id", site_id="site", at="at", text="note"
)


def site_calendar_set(*, site_id: int) -> bool:
    """Whether the site's opening hours (its business calendar for SLA clocks) have been set."""
    return SiteCalendar.objects.filter(site_id=site_id).exists()


# Contact attempts with patients as an SQL relation (``FROM {OUTREACH_SQL} o``), one row per
# attempt: ``workflow``, ``item_id``, ``site_id``, ``channel`` (phone, sms, letter, portal, email),
# ``outcome`` and ``at`` (UTC). Rows are only ever added.
OUTREACH_SQL = sql_relation(
    Outreach, id="id", workflow="workflow", item_id="item_id", site_id="site", channel="channel", outcome="outcome",
    at="at",
)  # fmt: skip
OUTREACH_CHANNELS: list[tuple[str, str]] = list(Outreach.Channel.choices)  # (value, label)
