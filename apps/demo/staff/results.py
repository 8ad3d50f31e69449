"""Simulated staff work on the demo's results, done only through the results services.

The demo clinician reviews what waits for review (taking it from the unassigned pool first when no
clinician was linked), critical results within the hour, abnormal ones within a working day,
normal ones in batches of "acknowledged" a day or so later; some are left for the live demo. The
decision (which follow-up) follows the criticality. An MA then tells the patient (phone for the
urgent ones) and books the repeat test or appointment the clinician asked for.

Every decision comes from ``ctx.rng`` keyed by the result, its version and the step (review,
notify, book), and each step only acts on items in the state before it, so a second run changes
nothing; an amended result the EHR reopens is a new version and is reviewed again.
"""

import random
from collections import Counter
from typing import Any

from apps.results import services
from apps.results.models import ResultItem
from apps.results.permissions import REVIEW
from apps.results.workflow import EXCEPTIONS_QUEUE, NEEDS_SCHEDULING, TO_REVIEW, Criticality, FollowUp, NotifyMethod
from apps.results.workflow import State as S

from . import StaffContext, staff_register

REVIEW_HOURS = {Criticality.CRITICAL: 0.75, Criticality.ABNORMAL: 10.0, Criticality.NORMAL: 22.0}
LEFT_UNREVIEWED = {Criticality.CRITICAL: 0.0, Criticality.ABNORMAL: 0.06, Criticality.NORMAL: 0.1}
FOLLOW_UPS = {  # (follow-up, weight) by criticality
    Criticality.CRITICAL: [(FollowUp.APPOINTMENT, 5), (FollowUp.REPEAT_TEST, 4), (FollowUp.NOTIFY_ONLY, 1)],
    Criticality.ABNORMAL: [(FollowUp.NOTIFY_ONLY, 45), (FollowUp.REPEAT_TEST, 30), (FollowUp.APPOINTMENT, 15),
                           (FollowUp.NONE, 10)],
    Criticality.NORMAL: [(FollowUp.NONE, 85), (FollowUp.NOTIFY_ONLY, 15)],
}  # fmt: skip
WHAT_TO_BOOK = {
    FollowUp.REPEAT_TEST: ["Repeat in 2 weeks, fasting.", "Repeat in 1 week.", "Repeat with the next blood draw."],
    FollowUp.APPOINTMENT: ["Clinic visit within 1 week to discuss.", "Telehealth visit this week.", "Same-day visit."],
}
NOTIFY_HOURS, BOOK_HOURS = 5.0, 20.0
MA = ("ma", "supervisor")
NOTIFY_BY = [NotifyMethod.PHONE, NotifyMethod.PORTAL, NotifyMethod.SMS]


@staff_register(ResultItem.WORKFLOW)
def results_staff(ctx: StaffContext) -> Counter:
    """Review, notify and book follow-ups for the due results of ``ctx.source_name``; counts per action."""
    done: Counter = Counter()
    steps = [*TO_REVIEW, S.REVIEWED, S.PATIENT_NOTIFIED]
    items = ResultItem.objects.filter(source__name=ctx.source_name, state__in=steps).exclude(queue=EXCEPTIONS_QUEUE)
    for item in items.order_by("pk"):
        key = f"result:{item.resource_type}/{item.resource_id}/{item.version_id}"
        # One step after another while each is due (all at once without ``ctx.now``: --staff).
        for step in (_review, _notify, _book):
            acted = sum(done.values())
            step(ctx, ctx.rng(f"{key}:{step.__name__}"), key, item, done)
            if sum(done.values()) != acted:
                item.refresh_from_db()
    return done


def _review(ctx: StaffContext, rng: random.Random, key: str, item: ResultItem, done: Counter) -> None:
    if item.state not in TO_REVIEW:
        return
    criticality = Criticality(item.criticality)
    if rng.random() < LEFT_UNREVIEWED[criticality]:
        return  # still waiting when the demo starts
    if not ctx.due_after(f"{key}:review", item.amended_at or item.opened_at, REVIEW_HOURS[criticality]):
        return
    clinician = ctx.worker(item, among=("clinician",), permission=REVIEW)
    if clinician is None:
        done["no demo clinician at this site"] += 1
        return
    if item.assignee_id != clinician.pk:
        services.result_take(item_id=item.pk, by=clinician)
        done["take"] += 1
    choices, weights = zip(*FOLLOW_UPS[criticality], strict=True)
    follow_up = rng.choices(choices, weights=weights)[0]
    if follow_up == FollowUp.NONE and criticality == Criticality.NORMAL:
        services.results_acknowledge(item_ids=[item.pk], by=clinician)
        done["acknowledge"] += 1
        return
    note = rng.choice(WHAT_TO_BOOK[follow_up]) if follow_up in NEEDS_SCHEDULING else ""
    services.result_review(item_id=item.pk, by=clinician, follow_up=follow_up, note=note)
    done["review"] += 1


def _notify(ctx: StaffContext, rng: random.Random, key: str, item: ResultItem, done: Counter) -> None:
    if item.state != S.REVIEWED or item.follow_up == FollowUp.NONE:
        return
    urgent = item.criticality == Criticality.CRITICAL
    if not ctx.due_after(f"{key}:notify", item.reviewed_at, 1.0 if urgent else NOTIFY_HOURS):
        return
    by = _ma(ctx, item, done)
    if by is not None:
        method = NotifyMethod.PHONE if urgent else rng.choice(NOTIFY_BY)
        services.result_notify(item_id=item.pk, by=by, method=method)
        done["notify"] += 1


def _book(ctx: StaffContext, rng: random.Random, key: str, item: ResultItem, done: Counter) -> None:
    if item.state != S.PATIENT_NOTIFIED or item.follow_up not in NEEDS_SCHEDULING:
        return
    if not ctx.due_after(f"{key}:book", item.notified_at, BOOK_HOURS) or rng.random() < 0.15:
        return  # some follow-ups are still to book when the demo starts
    by = _ma(ctx, item, done)
    if by is not None:
        services.result_schedule_follow_up(item_id=item.pk, by=by, note=f"Booked: {item.follow_up_note}")
        done["book_follow_up"] += 1


def _ma(ctx: StaffContext, item: ResultItem, done: Counter) -> Any | None:
    by = ctx.worker(item, among=MA)
    if by is None:
        done["no demo MA at this site"] += 1
    return by
