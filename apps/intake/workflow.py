"""The pre-visit intake state machine.

    pending ─contact─▶ outreach ─start─▶ in_progress ─finish─▶ ready          (before the visit day)
       └──────────────start──────────────▶   │  ▲                  │
       pending / outreach / in_progress ─finish─▶ ready            └─reopen─▶ in_progress (an item unticked)
       pending / outreach / in_progress / checked_in ─finish_late─▶ completed_late   (checklist done on the day)
    any state before arrival ─check_in─▶ checked_in   (Appointment arrived / checked-in, or the Encounter)
    any state before arrival ─mark_no_show─▶ no_show   (Appointment noshow)
    any open state before arrival ─cancel─▶ cancelled  (Appointment cancelled or entered-in-error)
    completed_late ─reschedule─▶ ready  (the visit moved to a later day: the checklist is now done ahead of it)

An intake is closed when it is cancelled or a no-show, or once the patient has arrived and the
checklist is complete (checked_in with every item done, or completed_late after arrival).
Transitions change fields only; services lock, save and log.
"""

from django.db import models
from django_fsm import FSMField, transition


class State(models.TextChoices):
    PENDING = "pending", "Pending"
    OUTREACH = "outreach", "Patient contacted"
    IN_PROGRESS = "in_progress", "In progress"
    READY = "ready", "Ready"
    CHECKED_IN = "checked_in", "Checked in"
    COMPLETED_LATE = "completed_late", "Completed on the day"
    NO_SHOW = "no_show", "No-show"
    CANCELLED = "cancelled", "Cancelled"


WORKING = [State.PENDING, State.OUTREACH, State.IN_PROGRESS]
BEFORE_ARRIVAL = [*WORKING, State.READY, State.COMPLETED_LATE]
ALWAYS_CLOSED = frozenset({State.NO_SHOW, State.CANCELLED})

# Transition → what happened, on the intake's timeline (Policy.done_label).
DONE_LABELS = {
    "create": "Booked in the EHR", "contact": "Outreach", "start": "Started", "finish": "Ready",
    "finish_late": "Completed on the day", "reopen": "Reopened", "check_in": "Checked in", "mark_no_show": "No-show",
    "cancel": "Cancelled", "reschedule": "Rescheduled", "tick": "Ticked by the EHR", "claim": "Claimed",
    "release": "Released", "escalate": "Escalated",
}  # fmt: skip
# Transition → its name as on the buttons (messages say "“Check in” is not possible now").
ACTION_LABELS = {
    "contact": "Contact the patient", "start": "Start", "finish": "Finish", "reopen": "Reopen",
    "finish_late": "Finish on the day", "check_in": "Check in", "mark_no_show": "No-show",
    "cancel": "Cancel intake", "reschedule": "Reschedule",
}  # fmt: skip

# State → the next step, or who acts next (shown on the item page).
NEXT_STEP: dict[str, str] = {
    State.PENDING: "Contact the patient and work through the checklist before the visit day.",
    State.OUTREACH: "Work through the checklist: the intake is ready when every line is done.",
    State.IN_PROGRESS: "Finish the checklist: the intake is ready when every line is done.",
    State.READY: "Ready for the visit. On the day, check the patient in when they arrive, or mark a no-show.",
    State.CHECKED_IN: "The patient is here: tick any checklist line still open.",
    State.COMPLETED_LATE: "The checklist was finished on the visit day: check the patient in when they arrive.",
    State.NO_SHOW: "Closed: the patient did not come. A new booking in the EHR brings a new intake.",
    State.CANCELLED: "Closed: the visit will not happen. Nothing left to do.",
}
# Once the patient is here with the checklist complete, nothing is left (checked in or completed late).
ARRIVED_AND_DONE_STEP = "Closed: the patient is here and the checklist is complete. Nothing left to do."

# Staff may fire these from the day view (the rest follow the checklist or the EHR).
STAFF_TRANSITIONS = frozenset({"contact", "start", "check_in", "mark_no_show", "cancel"})


def is_closed(state: str, *, arrived: bool, checklist_complete: bool) -> bool:
    """Closed: cancelled, no-show, or arrived with the checklist complete."""
    if state in ALWAYS_CLOSED:
        return True
    return state in (State.CHECKED_IN, State.COMPLETED_LATE) and arrived and checklist_complete


class IntakeTransitions(models.Model):
    state = FSMField(default=State.PENDING, choices=State.choices, protected=True)

    class Meta:
        abstract = True

    @transition(field=state, source=State.PENDING, target=State.OUTREACH)
    def contact(self) -> None:
        pass

    @transition(field=state, source=[State.PENDING, State.OUTREACH], target=State.IN_PROGRESS)
    def start(self) -> None:
        pass

    @transition(field=state, source=WORKING, target=State.READY)
    def finish(self) -> None:
        pass

    @transition(field=state, source=State.READY, target=State.IN_PROGRESS)
    def reopen(self) -> None:
        pass

    @transition(field=state, source=[*WORKING, State.CHECKED_IN], target=State.COMPLETED_LATE)
    def finish_late(self) -> None:
        pass

    @transition(field=state, source=BEFORE_ARRIVAL, target=State.CHECKED_IN)
    def check_in(self) -> None:
        pass

    @transition(field=state, source=BEFORE_ARRIVAL, target=State.NO_SHOW)
    def mark_no_show(self) -> None:
        pass

    @transition(field=state, source=BEFORE_ARRIVAL, target=State.CANCELLED)
    def cancel(self) -> None:
        pass

    @transition(field=state, source=State.COMPLETED_LATE, target=State.READY)
    def reschedule(self) -> None:
        pass
