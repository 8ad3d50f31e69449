"""Results KPIs, from the shared transition-log scan (columns prefixed ``res_``); a result's
criticality is read from the result item (its current one) only for the results a KPI counts.

Decisions: time to review is one KPI per criticality (their targets differ by an order of
magnitude, so one split tile would hide the one that matters); the first review counts (an
amended result reopened and reviewed again keeps its first review time); the unread backlog is
counted at the period end (now, for a period not yet over) and its aging buckets are cumulative
("older than 24 h", "older than 72 h")."""

from apps.results.selectors import RESULT_FACTS_SQL

from ..sql import now_sql, plus_seconds
from . import Group, Kind, Kpi, kpi_register, operations, referrals  # noqa: F401  (their tiles come first)
from .log import closed_states_register, log_column_register

HOUR = 3600.0
DAY = 86400

closed_states_register("result", ("closed", "voided"))
RES = "x.workflow = 'result'"
# Items are grouped by workflow, so these test it once per item and reuse the scan's MIN(x.at) (PostgreSQL computes an
# aggregate once however often it is named) instead of adding per-row work.
IS_RESULT = "x.workflow = 'result'"  # a grouping column
log_column_register("res_received_at", f"CASE WHEN {IS_RESULT} THEN MIN(x.at) END")
log_column_register("res_reviewed_at", f"MIN(CASE WHEN {RES} AND x.transition = 'review' THEN x.at END)")
log_column_register("res_notified_at", f"MIN(CASE WHEN {RES} AND x.transition = 'notify' THEN x.at END)")
# No longer unread: first reviewed, or voided before anyone read it.
log_column_register(
    "res_read_at", f"MIN(CASE WHEN {RES} AND (x.transition = 'review' OR x.to_state = 'voided') THEN x.at END)"
)


def _aged(seconds: int) -> str:
    """When a result became older than ``seconds`` (never in the future: buckets hold now)."""
    aged = plus_seconds("MIN(x.at)", seconds)
    return f"CASE WHEN {IS_RESULT} AND {aged} <= {now_sql()} THEN {aged} END"


def _ages_at(seconds: int) -> str:
    """When ``_aged(seconds)`` changes with the clock alone (the per-item rollup's refresh time)."""
    return f"CASE WHEN {IS_RESULT} THEN {plus_seconds('MIN(x.at)', seconds)} END"


log_column_register("res_aged_1d_at", _aged(DAY), changes_at=_ages_at(DAY))
CRITICAL_SLA_S = 3600  # the review SLA for critical results: 60 minutes, around the clock
# The critical review SLA's outcome is known at the first review or escalation, or when the hour
# ran out unreviewed (missed even if the timer has not escalated it yet), whichever came first.
_REVIEW_OR_ESCALATE = f"MIN(CASE WHEN {RES} AND x.transition IN ('review', 'escalate') THEN x.at END)"
_DUE = _aged(CRITICAL_SLA_S)
log_column_register(
    "res_sla_at",
    f"CASE WHEN {_REVIEW_OR_ESCALATE} IS NULL THEN {_DUE} WHEN {_DUE} IS NULL OR {_REVIEW_OR_ESCALATE} < {_DUE} "
    f"THEN {_REVIEW_OR_ESCALATE} ELSE {_DUE} END",
    changes_at=_ages_at(CRITICAL_SLA_S),
)
log_column_register("res_aged_3d_at", _aged(3 * DAY), changes_at=_ages_at(3 * DAY))

CRITICALITY = f"LEFT JOIN {RESULT_FACTS_SQL} rc ON rc.id = i.item_id AND i.workflow = 'result'"
REVIEW = (
    "Start: the result arrived from the EHR (its first log entry). End: a clinician first reviewed "
    "it (an amended result reviewed again keeps its first review). Counted in the period of the "
    "review; results not yet reviewed at the period end are not counted here (a time not yet "
    "known); the critical SLA tile counts the overdue ones as missed."
)


def _review_kpi(criticality: str, target: float) -> Kpi:
    return kpi_register(
        Kpi(
            key=f"result_review_{criticality}",
            name=f"{criticality.capitalize()} result review time (median)",
            group=Group.CLINICAL,
            unit="h",
            better="lower",
            target=target,
            definition=f"{REVIEW} Only results whose criticality is {criticality} (as it is now).",
            source="log",
            kind=Kind.MEDIAN,
            value=f"CASE WHEN rc.criticality = '{criticality}' THEN SECS(i.res_reviewed_at, i.res_received_at) END",
            event="res_reviewed_at",
            scale=HOUR,
            join=CRITICALITY,
        )
    )


_review_kpi("critical", 1)
_review_kpi("abnormal", 24)
_review_kpi("normal", 72)

kpi_register(
    Kpi(
        key="result_critical_within_sla",
        name="Critical results reviewed within SLA",
        group=Group.CLINICAL,
        unit="%",
        better="higher",
        target=95,
        definition=(
            "Each critical result counts once, in the period its outcome became known (the review "
            "SLA for critical results is 60 minutes, around the clock). Met: reviewed within 60 "
            "minutes of arriving and before any escalation. Missed: escalated, or 60 minutes passed "
            "without a review. Unreviewed results count as missed as soon as their hour is up, "
            "whether or not they have been reviewed since; unreviewed results still inside their "
            "hour at the period end are not counted."
        ),
        source="log",
        kind=Kind.RATE,
        value=(
            "CASE WHEN rc.criticality = 'critical' THEN CASE WHEN i.res_reviewed_at IS NOT NULL "
            "AND i.res_reviewed_at <= i.res_sla_at "
            f"AND SECS(i.res_reviewed_at, i.res_received_at) <= {CRITICAL_SLA_S} "
            "AND (i.escalated_at IS NULL OR i.escalated_at > i.res_reviewed_at) THEN 1 ELSE 0 END END"
        ),
        event="res_sla_at",
        join=CRITICALITY,
    )
)
kpi_register(
    Kpi(
        key="result_time_to_notification",
        name="Time to patient notification (median)",
        group=Group.CLINICAL,
        unit="h",
        better="lower",
        target=72,
        definition=(
            "Start: the result arrived from the EHR. End: the patient was first told (the notify "
            "step). Counted in the period of the notification; results that need no notification, "
            "or whose patient has not been told by the period end, are not counted."
        ),
        source="log",
        kind=Kind.MEDIAN,
        value="SECS(i.res_notified_at, i.res_received_at)",
        event="res_notified_at",
        scale=HOUR,
    )
)

UNREAD = (
    "Results arrived before the end of the period (now, if it has not ended) and not yet reviewed "
    "or voided then. The trend is the count at the end of each week."
)
kpi_register(
    Kpi(
        key="result_unread_backlog",
        name="Unread results",
        group=Group.OPERATIONAL,
        unit="results",
        better="lower",
        target=None,
        definition=UNREAD,
        source="log",
        kind=Kind.OPEN_COUNT,
        event="res_received_at",
        value="res_read_at",
    )
)
for column, label, target in (("res_aged_1d_at", "24 h", None), ("res_aged_3d_at", "72 h", 0)):
    kpi_register(
        Kpi(
            key=f"result_unread_over_{label.replace(' ', '')}",
            name=f"Unread results older than {label}",
            group=Group.OPERATIONAL,
            unit="results",
            better="lower",
            target=target,
            definition=f"{UNREAD} Only those that had been waiting longer than {label} then (an aging bucket).",
            source="log",
            kind=Kind.OPEN_COUNT,
            event=column,
            value="res_read_at",
        )
    )
