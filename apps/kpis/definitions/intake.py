"""Intake KPIs, from the intakes themselves (one row per booked visit): the intake keeps the
scorecard facts as they happen (readiness before the visit day, EHR arrival and check-in times),
which the transition log does not hold. Visits are placed in a period by their start time in
the site's time zone."""

from apps.intake.selectors import INTAKE_FACTS_SQL

from . import (  # noqa: F401  (their tiles come first)
    Group,
    Kind,
    Kpi,
    Source,
    kpi_register,
    operations,
    referrals,
    results,
    source_register,
)

MINUTE = 60.0

source_register(
    Source(
        key="intake",
        sql=f"""
        SELECT 'intake' AS workflow, n.id AS item_id, n.site_id AS site_id, n.service_line_id AS service_line_id,
               n.patient_ref AS patient_ref, n.state AS state, n.visit_start AS visit_start,
               n.arrived_at AS arrived_at, n.checked_in_at AS checked_in_at, n.entered_by_hand AS entered_by_hand,
               CASE WHEN n.complete_before_visit IS NULL THEN NULL
                    WHEN n.complete_before_visit THEN 1 ELSE 0 END AS complete_before,
               CASE WHEN n.state = 'no_show' THEN 1
                    WHEN n.arrived_at IS NOT NULL OR n.checked_in_at IS NOT NULL THEN 0 END AS no_show,
               CASE WHEN n.arrived_at IS NULL OR n.checked_in_at IS NULL THEN NULL
                    WHEN n.checked_in_at < n.arrived_at THEN 0
                    ELSE SECS(n.checked_in_at, n.arrived_at) END AS check_in_s
        FROM {INTAKE_FACTS_SQL} n
        JOIN bounds sb ON sb.site_id = n.site_id
        WHERE n.visit_start < sb.hi AND (n.arrived_at IS NULL OR n.arrived_at < sb.hi)
        """,  # noqa: S608 - SQL from KPI definitions; values are parameters
        service_line_column="service_line_id",
        drill_columns=("workflow", "item_id", "site_id", "patient_ref"),
        by_hand="s.entered_by_hand",
    )
)

kpi_register(
    Kpi(
        key="intake_complete_before_visit",
        name="Intake complete before the visit",
        group=Group.OPERATIONAL,
        unit="%",
        better="higher",
        target=80,
        definition=(
            "Numerator: visits in the period whose intake checklist was complete before the visit day. "
            "Denominator: visits in the period where the patient arrived or was marked a no-show "
            "(cancelled visits and visits not yet settled are not counted)."
        ),
        source="intake",
        kind=Kind.RATE,
        value="i.complete_before",
        event="visit_start",
    )
)
kpi_register(
    Kpi(
        key="intake_check_in_minutes",
        name="Day-of-visit check-in time (median)",
        group=Group.OPERATIONAL,
        unit="min",
        better="lower",
        target=10,
        definition=(
            "Start: the patient arrived (the EHR's arrival time). End: checked in (appointment "
            "checked-in or encounter started, EHR time); a check-in recorded before the arrival counts "
            "as 0. Counted in the period of the arrival; visits without both times are not counted."
        ),
        source="intake",
        kind=Kind.MEDIAN,
        value="i.check_in_s",
        event="arrived_at",
        scale=MINUTE,
    )
)
kpi_register(
    Kpi(
        key="intake_no_show_rate",
        name="No-show rate",
        group=Group.CLINICAL,
        unit="%",
        better="lower",
        target=8,
        definition=(
            "Numerator: visits in the period marked as a no-show. Denominator: visits in the period "
            "where the patient arrived (or was checked in) or was a no-show; cancelled visits and "
            "visits not yet settled are not counted."
        ),
        source="intake",
        kind=Kind.RATE,
        value="i.no_show",
        event="visit_start",
        tags=("no_shows_avoided",),
    )
)
