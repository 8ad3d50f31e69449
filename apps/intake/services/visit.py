"""What every intake use case shares, staff or EHR: when an intake is due (the visit day), which
checklist lines it has, and the state its checklist implies (``settle``)."""

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from apps.core.models import Site, User
from apps.workflow.models import TransitionSource
from apps.workflow.transitions import open_settle, transition_apply

from ..checklist import checklist_for
from ..models import Intake, IntakeCheck
from ..policy import checklist_complete
from ..workflow import WORKING, State

STAFF = TransitionSource.STAFF


def visit_day_start(site: Site, visit_date: date) -> datetime:
    """Midnight at the start of the visit day, in the site's time zone (an aware datetime)."""
    return datetime.combine(visit_date, time.min, tzinfo=site.tzinfo)


def schedule_visit(intake: Intake, start: datetime) -> None:
    """Set the visit time and day; the intake is due (ready) by the start of the visit day."""
    intake.visit_start = start
    intake.visit_date = timezone.localtime(start, intake.site.tzinfo).date()
    intake.due_at = visit_day_start(intake.site, intake.visit_date)
    intake.warn_at = intake.due_at - timedelta(days=1)


def checklist_sync(intake: Intake) -> int:
    """Add the lines the intake's checklist now has but the intake lacks (none is removed); returns the count."""
    have = set(intake.checks.values_list("key", flat=True))
    new = [
        IntakeCheck(intake=intake, key=line.key, label=line.label, position=line.position)
        for line in checklist_for(intake.site_id, intake.appointment_type)
        if line.key not in have
    ]
    IntakeCheck.objects.bulk_create(new)
    return len(new)


def settle(
    intake: Intake, *, by: User | None = None, source: str = STAFF, reason: str = "", correlation_id: str = ""
) -> None:
    """Move the state to what the checklist now says: started, ready (before the visit day),
    completed on the day, or back in progress when an item was unticked."""
    now = timezone.now()
    complete = checklist_complete(intake)
    name = None
    if complete and intake.state in WORKING:
        name = "finish" if now < intake.due_at else "finish_late"
    elif complete and intake.state == State.CHECKED_IN:
        name = "finish_late"
    elif not complete and intake.state == State.READY:
        name = "reopen"
    elif not complete and intake.state == State.PENDING and intake.checks.filter(done_at__isnull=False).exists():
        name = "start"
    if name is not None:
        transition_apply(intake, name, by=by, source=source, reason=reason, correlation_id=correlation_id)
    else:
        open_settle(intake, now=now)
        intake.save()
