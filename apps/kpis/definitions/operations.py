"""Operations KPIs over every workflow, from the shared transition-log scan: handoffs,
escalations, SLA adherence, rework, and the open work (queue length, inbox aging)."""

from . import Group, Kind, Kpi, kpi_register
from .log import log_column_register

HOUR = 3600.0
REOPENING = ("unschedule", "reopen")  # transitions that undo finished work
EXCEPTIONS_QUEUE = "exceptions"

log_column_register("escalated_at", "MIN(CASE WHEN x.transition = 'escalate' THEN x.at END)")
log_column_register(
    "reworked",
    "MAX(CASE WHEN x.transition IN ('unschedule', 'reopen') OR x.queue = 'exceptions' THEN 1 ELSE 0 END)",
)
log_column_register("handoff_s", "AVG(x.handoff_s)")
# When an item's SLA outcome became known: it closed (met, unless escalated before) or the SLA
# timer escalated it (missed), whichever came first. Open items not yet overdue have no outcome.
log_column_register("sla_outcome_at", "MIN(CASE WHEN x.transition = 'escalate' OR CLOSING_TRANSITION THEN x.at END)")
SLA_OPEN_ITEMS = (
    "Open items count as soon as they are overdue (the SLA timer escalated them), as missed, whether "
    "or not they have been closed since; open items not yet overdue at the period end are not counted "
    "(they may still meet it)."
)

kpi_register(
    Kpi(
        key="ops_queue_length",
        name="Queue length",
        group=Group.OPERATIONAL,
        unit="items",
        better="lower",
        target=None,
        definition=(
            "Open items (every workflow, any queue) at the end of the period: opened (first log "
            "entry) before then and not yet closed. The trend is the count at the end of each week."
        ),
        source="log",
        kind=Kind.OPEN_COUNT,
        event="opened_at",
        value="closed_at",
    )
)
kpi_register(
    Kpi(
        key="ops_inbox_aging",
        name="Inbox aging (median age of open items)",
        group=Group.OPERATIONAL,
        unit="h",
        better="lower",
        target=48,
        definition=(
            "Median time since opening of the items open at the end of the period (or now, if the "
            "period has not ended)."
        ),
        source="log",
        kind=Kind.OPEN_AGE,
        event="opened_at",
        value="closed_at",
        scale=HOUR,
    )
)
kpi_register(
    Kpi(
        key="ops_handoff_latency",
        name="Handoff latency (median)",
        group=Group.OPERATIONAL,
        unit="h",
        better="lower",
        target=8,
        definition=(
            "For each item closed in the period: the mean wait from one role's action to the next "
            "action by a different role (e.g. a scheduler starts triage, a clinician accepts); the "
            "median over those items. Actions by the EHR and timers are not handoffs."
        ),
        source="log",
        kind=Kind.MEDIAN,
        value="i.handoff_s",
        event="closed_at",
        scale=HOUR,
    )
)
kpi_register(
    Kpi(
        key="ops_escalations",
        name="Escalations",
        group=Group.OPERATIONAL,
        unit="items",
        better="lower",
        target=None,
        definition="Items first escalated to a supervisor (SLA breached) in the period.",
        source="log",
        kind=Kind.COUNT,
        value="1",
        event="escalated_at",
    )
)
kpi_register(
    Kpi(
        key="ops_sla_adherence",
        name="SLA adherence",
        group=Group.OPERATIONAL,
        unit="%",
        better="higher",
        target=90,
        definition=(
            "Each item counts once, in the period its SLA outcome became known. Met: closed before "
            "the SLA timer escalated it. Missed: escalated to a supervisor (its SLA clock, in the "
            "site's business hours with pauses, ran out) before it closed. " + SLA_OPEN_ITEMS
        ),
        source="log",
        kind=Kind.RATE,
        value="CASE WHEN i.escalated_at IS NOT NULL AND i.escalated_at <= i.sla_outcome_at THEN 0 ELSE 1 END",
        event="sla_outcome_at",
    )
)
kpi_register(
    Kpi(
        key="ops_no_rework",
        name="Completed without rework",
        group=Group.OPERATIONAL,
        unit="%",
        better="higher",
        target=85,
        definition=(
            "Numerator: items closed in the period that were never reopened (e.g. unscheduled) and "
            "never sat in the exceptions queue. Denominator: items closed in the period."
        ),
        source="log",
        kind=Kind.RATE,
        value="1 - i.reworked",
        event="closed_at",
    )
)
