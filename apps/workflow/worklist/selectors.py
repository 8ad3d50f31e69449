"""Worklist reads for any registered workflow: one keyset page of open items with their patients,
the queue counts per site, the people who work the items, the user's saved views."""

from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet, prefetch_related_objects
from django.http import Http404

from apps.core.models import User
from apps.core.scoping import scope_to_sites, site_ids_for

from ..models import SavedView, WorkItem
from ..registry import workflow_model
from ..selectors import Page, patients_attach, queue_counts, worklist_page
from .spec import WorklistSpec

PAGE_SIZE = 50


def worklist_items(
    *, spec: WorklistSpec, user: Any, filters: dict[str, Any], sort: str = "priority", cursor: str | None = None,
    limit: int = PAGE_SIZE, known: Iterable[Any] = (),
) -> Page:  # fmt: skip
    """One keyset page of the user's open items, with their patients (one extra query) and what
    the workflow's columns read (``prefetch_related``, one query each). ``known``: objects already
    fetched (the people who work the list) that the items' foreign keys may name."""
    page = worklist_page(
        model=workflow_model(spec.workflow), user=user, filters=filters, sort=sort, cursor=cursor, limit=limit,
        select_related=spec.select_related, known=known,
    )  # fmt: skip
    if spec.prefetch_related:
        prefetch_related_objects(page.items, *spec.prefetch_related)
    spec.decorate(page.items)
    patients_attach(page.items, user=user)
    return page


def worklist_item_get(*, spec: WorklistSpec, user: Any, item_id: int) -> Any:
    """One item at one of the user's sites, with its patient; any other is 'not found'."""
    model = workflow_model(spec.workflow)
    qs = scope_to_sites(model.objects.all(), user).select_related(*spec.select_related)
    item = qs.filter(pk=item_id).first()
    if item is None:
        raise Http404(f"No such {spec.noun}.")
    if spec.prefetch_related:
        prefetch_related_objects([item], *spec.prefetch_related)
    spec.decorate([item])
    patients_attach([item], user=user)
    return item


def worklist_items_in_scope(*, spec: WorklistSpec, user: Any, ids: Iterable[int]) -> dict[int, WorkItem]:
    """Which of these items are at the user's sites, by id (for bulk actions)."""
    model = workflow_model(spec.workflow)
    return {item.pk: item for item in scope_to_sites(model.objects.filter(pk__in=list(ids)), user)}


def worklist_counts(*, spec: WorklistSpec, user: Any) -> list[dict[str, Any]]:
    """Open items per site and queue (total, overdue, unassigned), grouped by site."""
    sites: dict[str, dict[str, Any]] = {}
    for row in queue_counts(model=workflow_model(spec.workflow), user=user):
        site = sites.setdefault(
            row["site__code"],
            {"code": row["site__code"], "name": row["site__name"], "total": 0, "overdue": 0, "unassigned": 0,
             "queues": []},
        )  # fmt: skip
        numbers = {key: row[key] for key in ("total", "overdue", "unassigned")}
        for key, value in numbers.items():
            site[key] += value
        site["queues"].append({"queue": row["queue"], "label": spec.queue_label(row["queue"]), **numbers})
    return list(sites.values())


def worklist_workers(*, spec: WorklistSpec, user: Any) -> QuerySet[User]:
    """Active people who work these items at the user's sites (assignee filter, bulk assign)."""
    app_label, codename = spec.work_permission.split(".", 1)
    holds = Q(groups__permissions__codename=codename, groups__permissions__content_type__app_label=app_label) | Q(
        user_permissions__codename=codename, user_permissions__content_type__app_label=app_label
    )
    return (
        User.objects.filter(holds, is_active=True, sites__in=site_ids_for(user))
        .distinct()
        .only("id", "username", "first_name", "last_name")
        .order_by("first_name", "last_name", "username")
    )


def saved_view_list(*, spec: WorklistSpec, user: Any) -> QuerySet[SavedView]:
    """The user's own saved views of this worklist, by name."""
    return SavedView.objects.filter(user=user, workflow=spec.workflow).order_by("name")


def saved_view_get(*, spec: WorklistSpec, user: Any, view_id: int) -> SavedView:
    view = saved_view_list(spec=spec, user=user).filter(pk=view_id).first()
    if view is None:
        raise Http404("No such saved view.")
    return view
