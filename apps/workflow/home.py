"""The "my work" home: what each person should do now, across every workflow (through the registry).

People who work items see their claimed items (most urgent first), their queues with counts and
the oldest overdue item, what was escalated to them, and one link to the next item. Leaders land
on the scorecard and integration admins on the integration console (by URL name: those apps sit
above or beside this one); terminology stewards see the unmapped codes and the map versions
waiting for their review.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.db.models import Min, Q
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.core.access_log import access_log_listed
from apps.core.http import AuthenticatedRequest
from apps.core.roles import can_see_patient_data
from apps.core.scoping import scope_to_sites, site_list_for
from apps.terminology.models import ConceptMapVersion
from apps.terminology.selectors import unmapped_open_count
from apps.terminology.workflow import State as MapState
from apps.terminology.workflow import four_eyes_problem, is_steward

from .models import WorkItem
from .patients import item_url, may_enter_work
from .registry import workflow_models, workflow_policy
from .selectors import patients_attach, queue_counts
from .sla import SUPERVISOR_QUEUE, sla_status
from .transitions import EXCEPTIONS_QUEUE
from .worklist import worklist_spec

CLAIMED_LIMIT = 20
SUPERVISE = "core.supervise_queues"


@dataclass
class QueueRow:
    workflow: str
    site_code: str
    site_name: str
    queue: str
    label: str
    total: int
    overdue: int
    unassigned: int
    url: str | None
    oldest_overdue: Any = None

    @property
    def title(self) -> str:
        """The queue as people say it: workflow and queue, or the workflow alone when they share a name."""
        return self.workflow if self.label.lower() == self.workflow.lower() else f"{self.workflow}: {self.label}"


@dataclass
class MyWork:
    claimed: list[Any] = field(default_factory=list)
    escalated: list[Any] = field(default_factory=list)
    queues: list[QueueRow] = field(default_factory=list)
    next_item: Any = None


def _decorate(items: list[Any], *, user: Any, now: datetime) -> list[Any]:
    """Label, link, local times and SLA status of each item, and its patient."""
    patients_attach(items, user=user)  # one query for every workflow's items (keyed by source and reference)
    for item in items:
        item.workflow_label = workflow_policy(item.WORKFLOW).noun.capitalize()
        item.url = item_url(item, user=user)
        item.sla = sla_status(item, now=now)
        item.overdue_for = now - item.due_at if item.sla == "overdue" else None
    return items


def _urgency(item: Any) -> tuple[int, datetime, int]:
    return (item.priority_rank, item.due_at, item.pk)


def worklist_url(model: type[WorkItem], *, site: str = "", queue: str = "") -> str | None:
    """The workflow's list, filtered to a site and queue (its worklist, else its day view)."""
    for name in ("worklist", "day"):
        try:
            url = reverse(f"{model._meta.app_label}:{name}")
        except NoReverseMatch:
            continue
        params = [f"site={site}"] if site else []
        if queue and name == "worklist":
            params.append(f"queue={queue}")
        return f"{url}?{'&'.join(params)}" if params else url
    return None


def my_work(*, user: Any, now: datetime | None = None) -> MyWork:
    """The user's claimed and escalated open items (most urgent first), their queues with counts and
    oldest overdue item, and the next item to open. Scoped to their sites; two to four queries per
    workflow."""
    now = now or timezone.now()
    work = MyWork()
    supervisor = user.has_perm(SUPERVISE)
    unclaimed: list[Any] = []
    for model in workflow_models().values():
        scoped = scope_to_sites(model.objects.filter(is_open=True), user).select_related("site", "assignee")
        mine = list(scoped.filter(assignee=user).order_by("priority_rank", "due_at", "id")[:CLAIMED_LIMIT])
        work.claimed += [i for i in mine if not i.escalated_at]
        to_me = Q(assignee=user) | (Q(queue=SUPERVISOR_QUEUE) if supervisor else Q(pk__in=[]))
        escalated = scoped.filter(to_me, escalated_at__isnull=False).order_by("escalated_at")
        work.escalated += list(escalated[:CLAIMED_LIMIT])
        if not user.has_perm(model.WORK_PERMISSION):
            continue
        work.queues += _queues(model, user=user, now=now)
        # The next unclaimed item is one that has something to do now: not held for a steward,
        # not waiting on someone else (the EHR, the referrer, a clinician).
        waiting = scoped.filter(assignee__isnull=True).exclude(queue=EXCEPTIONS_QUEUE)
        waiting = waiting.exclude(state__in=workflow_policy(model.WORKFLOW).waiting_states)
        if not supervisor:
            waiting = waiting.exclude(queue=SUPERVISOR_QUEUE)
        unclaimed += list(waiting.order_by("priority_rank", "due_at", "id")[:1])
    work.claimed.sort(key=_urgency)
    work.escalated.sort(key=_urgency)
    _decorate([*work.claimed, *work.escalated, *unclaimed], user=user, now=now)
    candidates = work.escalated[:1] or work.claimed[:1] or sorted(unclaimed, key=_urgency)[:1]
    work.next_item = next((item for item in candidates if item.url), None)
    return work


def _queue_label(workflow: str, queue: str) -> str:
    """The queue as its worklist names it (the same words in the sidebar and here)."""
    try:
        return worklist_spec(workflow).queue_label(queue)
    except LookupError:
        return queue.replace("_", " ").capitalize()


def _queues(model: type[WorkItem], *, user: Any, now: datetime) -> list[QueueRow]:
    rows = [
        QueueRow(
            workflow=workflow_policy(model.WORKFLOW).noun.capitalize(),
            site_code=row["site__code"],
            site_name=row["site__name"],
            queue=row["queue"],
            label=_queue_label(model.WORKFLOW, row["queue"]),
            total=row["total"],
            overdue=row["overdue"],
            unassigned=row["unassigned"],
            url=worklist_url(model, site=row["site__code"], queue=row["queue"]),
        )
        for row in queue_counts(model=model, user=user, now=now)
    ]
    overdue = scope_to_sites(model.objects.filter(is_open=True, due_at__lte=now, sla_paused_at__isnull=True), user)
    oldest = list(overdue.values("site__code", "queue").annotate(due=Min("due_at")))
    if not oldest:
        return rows
    condition = Q()
    for row in oldest:
        condition |= Q(site__code=row["site__code"], queue=row["queue"], due_at=row["due"])
    found = {(i.site.code, i.queue): i for i in overdue.filter(condition).select_related("site").order_by("-id")}
    for queue_row in rows:
        item = found.get((queue_row.site_code, queue_row.queue))
        if item is not None:
            item.url = item_url(item, user=user)
            item.overdue_for = now - item.due_at
            queue_row.oldest_overdue = item
    return rows


def steward_work(*, user: Any) -> dict[str, Any]:
    """What waits for a terminology steward: open unmapped codes, and map versions in review that
    this steward may approve (four eyes: not their own)."""
    in_review = ConceptMapVersion.objects.filter(state=MapState.IN_REVIEW).select_related("map", "submitted_by")
    return {
        "unmapped": unmapped_open_count(),
        "reviews": [v for v in in_review.order_by("submitted_at", "id") if not four_eyes_problem(v, user)],
    }


@require_GET
def home(request: AuthenticatedRequest) -> HttpResponse:
    """Each role's landing page: "my work" for people who work items, the steward's queue, the
    scorecard for leaders, the integration console for integration admins."""
    user = request.user
    works = can_see_patient_data(user)
    steward = is_steward(user)
    if not works and not steward:
        for permission, url_name in (("core.view_aggregates", "kpis:scorecard"),
                                     ("core.administer_integrations", "ehr:console")):  # fmt: skip
            if user.has_perm(permission):
                return HttpResponseRedirect(reverse(url_name))
    context: dict[str, Any] = {
        "sites": site_list_for(user),  # the time zone middleware's list: no query of its own
        "works": works,
        "may_enter": may_enter_work(user),
        "can_enter_referral": may_enter_work(user) and user.has_perm("core.work_referrals"),
        "can_add_walk_in": may_enter_work(user) and user.has_perm("core.work_intake"),
        "sees_scorecard": user.has_perm("core.view_aggregates"),
    }
    if works:
        work = my_work(user=user)
        access_log_listed(request, [*work.claimed, *work.escalated])
        context["work"] = work
    if steward:
        context["steward"] = steward_work(user=user)
    return render(request, "workflow/home.html", context)


@require_GET
def next_item(request: AuthenticatedRequest) -> HttpResponse:
    """One click to the next item: escalated to me, else my most urgent claimed one, else the most
    urgent unclaimed one in my queues; home with a message when there is none."""
    target = my_work(user=request.user).next_item if can_see_patient_data(request.user) else None
    if target is None:
        messages.info(request, "Nothing is waiting for you right now.")
        return HttpResponseRedirect(reverse("workflow:home"))
    return HttpResponseRedirect(target.url)
