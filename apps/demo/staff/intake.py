"""Simulated staff work on the demo's pre-visit intakes, done only through the intake services.

Before the visit an MA (the supervisor at sites without a demo MA) calls or texts most patients a
day or so after the booking, and ticks the lines only staff can tick (demographics, insurance,
medication list) over the following days; the questionnaire and consents are ticked by the EHR's
own QuestionnaireResponses and DocumentReferences. On the day, the front desk checks in most
patients whose visit has just started and whom the EHR has not yet reported on.

Decisions come from ``ctx.rng`` keyed by the appointment (and checklist line), and each step acts
only on what is still undone, so a second run changes nothing.
"""

from collections import Counter
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from apps.intake import services
from apps.intake.checklist import DEMOGRAPHICS, INSURANCE, MEDICATIONS
from apps.intake.models import Intake
from apps.intake.workflow import BEFORE_ARRIVAL, WORKING
from apps.intake.workflow import State as S
from apps.workflow.models import OutreachChannel

from . import StaffContext, staff_register

STAFF_LINES = {DEMOGRAPHICS: 20.0, INSURANCE: 30.0, MEDICATIONS: 60.0}  # median hours after the booking
TICKED = 0.85  # share of those lines staff get to before the visit
OUTREACH, OUTREACH_HOURS, OUTREACH_FAILS = 0.7, 24.0, 0.35
CHECK_IN, CHECK_IN_WINDOW = 0.9, timedelta(minutes=30)  # before the EHR's own arrival/fulfilled event
WORKERS = ("ma", "supervisor")


@staff_register(Intake.WORKFLOW)
def intake_staff(ctx: StaffContext) -> Counter:
    """Outreach, checklist ticks and check-ins on the due intakes of ``ctx.source_name``; counts per action."""
    now = ctx.now or timezone.now()
    done: Counter = Counter()
    intakes = (
        Intake.objects.filter(source__name=ctx.source_name)
        .filter(
            Q(state__in=WORKING, visit_start__gt=now)
            | Q(state__in=BEFORE_ARRIVAL, visit_start__lte=now, visit_start__gt=now - CHECK_IN_WINDOW)
        )
        .select_related("appointment", "site")
        .prefetch_related("checks")
        .order_by("pk")
    )
    for intake in intakes:
        key = f"intake:{intake.appointment.fhir_id}"
        if intake.visit_start > now:
            _before_visit(ctx, key, intake, done)
        else:
            _check_in(ctx, key, intake, done)
    return done


def _before_visit(ctx: StaffContext, key: str, intake: Intake, done: Counter) -> None:
    rng = ctx.rng(f"{key}:outreach")
    if (
        intake.state == S.PENDING
        and intake.outreach_attempts == 0
        and rng.random() < OUTREACH
        and ctx.due_after(f"{key}:outreach", intake.opened_at, OUTREACH_HOURS)
    ):
        if (by := _worker(ctx, intake, done)) is None:
            return
        failed = rng.random() < OUTREACH_FAILS
        outcome = rng.choice(["no_answer", "left_message"]) if failed else "reached"
        channel = rng.choice([OutreachChannel.PHONE, OutreachChannel.PHONE, OutreachChannel.SMS])
        services.intake_outreach_record(intake_id=intake.pk, by=by, channel=channel, outcome=outcome)
        done["outreach"] += 1
    for check in intake.checks.all():
        median = STAFF_LINES.get(check.key)
        if median is None or check.done_at is not None:
            continue
        line = f"{key}:{check.key}"
        if ctx.rng(line).random() < TICKED and ctx.due_after(line, intake.opened_at, median):
            if (by := _worker(ctx, intake, done)) is None:
                return
            services.intake_check_set(intake_id=intake.pk, key=check.key, done=True, by=by)
            done["tick"] += 1


def _check_in(ctx: StaffContext, key: str, intake: Intake, done: Counter) -> None:
    if intake.appointment.status != "booked" or ctx.rng(f"{key}:check_in").random() >= CHECK_IN:
        return  # the EHR has reported on the visit already, or the desk left it to the EHR
    if (by := _worker(ctx, intake, done)) is None:
        return
    services.intake_check_in(intake_id=intake.pk, by=by)
    done["check_in"] += 1


def _worker(ctx: StaffContext, intake: Intake, done: Counter) -> Any | None:
    by = ctx.worker(intake, among=WORKERS)
    if by is None:
        done["no demo user works this site"] += 1
    return by
