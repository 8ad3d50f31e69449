"""Referral KPIs, from the shared transition-log scan (columns prefixed ``ref_``); the outreach
count is read from the referral only for the referrals a KPI counts."""

from apps.referrals.selectors import REFERRAL_FACTS_SQL

from . import Group, Kind, Kpi, kpi_register
from .log import closed_states_register, log_column_register

DAY = 86400.0
HOUR = 3600.0

closed_states_register("referral", ("completed", "declined", "cancelled", "abandoned"))
REF = "x.workflow = 'referral' AND "
log_column_register("ref_triaged_at", f"MIN(CASE WHEN {REF}x.transition IN ('accept', 'decline') THEN x.at END)")
log_column_register("ref_scheduled_at", f"MIN(CASE WHEN {REF}x.transition = 'schedule' THEN x.at END)")
log_column_register("ref_abandoned", f"MAX(CASE WHEN {REF}x.to_state = 'abandoned' THEN 1 ELSE 0 END)")
log_column_register(
    "ref_escalated_at", f"MIN(CASE WHEN {REF}x.transition = 'escalate' THEN x.at END)"
)  # before the decision: triage SLA breached
# The triage SLA's outcome is known at the decision (met) or at an escalation before it (missed).
log_column_register(
    "ref_triage_sla_at", f"MIN(CASE WHEN {REF}x.transition IN ('accept', 'decline', 'escalate') THEN x.at END)"
)

TRIAGE = (
    "Start: the referral was received (its first log entry). End: the first triage decision "
    "(accept or decline). Counted in the period of the decision; referrals still undecided "
    "at the period end are not counted here (a time not yet known); the SLA tile counts the "
    "overdue ones as missed."
)
IS_REFERRAL = "i.workflow = 'referral'"

kpi_register(
    Kpi(
        key="referral_triage_median",
        name="Time to triage (median)",
        group=Group.CLINICAL,
        unit="h",
        better="lower",
        target=24,
        definition=TRIAGE,
        source="log",
        kind=Kind.MEDIAN,
        value="SECS(i.ref_triaged_at, i.opened_at)",
        event="ref_triaged_at",
        scale=HOUR,
    )
)
kpi_register(
    Kpi(
        key="referral_triage_p90",
        name="Time to triage (90th percentile)",
        group=Group.CLINICAL,
        unit="h",
        better="lower",
        target=72,
        definition=TRIAGE + " Nine in ten decisions came at least this fast.",
        source="log",
        kind=Kind.P90,
        value="SECS(i.ref_triaged_at, i.opened_at)",
        event="ref_triaged_at",
        scale=HOUR,
    )
)
kpi_register(
    Kpi(
        key="referral_time_to_appointment",
        name="Time to appointment (median)",
        group=Group.CLINICAL,
        unit="d",
        better="lower",
        target=14,
        definition=(
            "Start: the referral was received. End: it was first scheduled (an appointment booked). "
            "Counted in the period it was scheduled."
        ),
        source="log",
        kind=Kind.MEDIAN,
        value="SECS(i.ref_scheduled_at, i.opened_at)",
        event="ref_scheduled_at",
        scale=DAY,
    )
)
kpi_register(
    Kpi(
        key="referral_abandonment",
        name="Abandonment rate",
        group=Group.CLINICAL,
        unit="%",
        better="lower",
        target=5,
        definition=(
            "Numerator: referrals closed as abandoned (patient not reached). Denominator: referrals "
            "closed in the period (completed, declined, cancelled or abandoned). Open referrals are not counted."
        ),
        source="log",
        kind=Kind.RATE,
        value=f"CASE WHEN {IS_REFERRAL} THEN i.ref_abandoned END",
        event="closed_at",
    )
)
kpi_register(
    Kpi(
        key="referral_triaged_within_sla",
        name="Triaged within SLA",
        group=Group.CLINICAL,
        unit="%",
        better="higher",
        target=90,
        definition=(
            "Each referral counts once, in the period its triage SLA outcome became known. Met: "
            "accepted or declined before the SLA timer escalated it. Missed: escalated before any "
            "decision (the clock counts opening hours and pauses while waiting on the referrer). "
            "Undecided referrals count as missed as soon as they are overdue, whether or not they "
            "have been decided since; undecided referrals not yet overdue at the period end are not "
            "counted (they may still meet it)."
        ),
        source="log",
        kind=Kind.RATE,
        value=(
            "CASE WHEN i.ref_escalated_at IS NOT NULL AND i.ref_escalated_at <= i.ref_triage_sla_at THEN 0 ELSE 1 END"
        ),
        event="ref_triage_sla_at",
    )
)
kpi_register(
    Kpi(
        key="referral_outreach_per_scheduled",
        name="Outreach attempts per scheduled referral",
        group=Group.CLINICAL,
        unit="attempts",
        better="lower",
        target=2,
        definition=(
            "Numerator: outreach attempts recorded on referrals first scheduled in the period. "
            "Denominator: those referrals."
        ),
        source="log",
        kind=Kind.MEAN,
        value="r.outreach_attempts",
        join=f"LEFT JOIN {REFERRAL_FACTS_SQL} r ON r.id = i.item_id AND i.workflow = 'referral'",
        event="ref_scheduled_at",
    )
)
