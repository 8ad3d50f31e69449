"""Referral KPIs: one row per referral from its transitions up to the period end, joined to the
referral for when it was received, its patient and its outreach count."""

from . import Group, Kind, Kpi, Source, kpi_register, source_register

DAY = 86400.0
HOUR = 3600.0

REFERRALS = source_register(
    Source(
        key="referrals",
        sql="""
        SELECT p.*, SECS(p.triaged_at, p.opened_at) AS triage_s, SECS(p.scheduled_at, p.opened_at) AS appointment_s,
               CASE WHEN p.escalated_at IS NULL OR p.escalated_at > p.triaged_at THEN 1 ELSE 0 END AS triage_in_sla
        FROM (
          SELECT t.item_id AS item_id, t.site_id AS site_id, r.service_line_id AS service_line_id,
                 r.patient_ref AS patient_ref, r.opened_at AS opened_at, r.outreach_attempts AS outreach_attempts,
                 MIN(CASE WHEN t.transition IN ('accept', 'decline') THEN t.at END) AS triaged_at,
                 MIN(CASE WHEN t.transition = 'schedule' THEN t.at END) AS scheduled_at,
                 MIN(CASE WHEN t.transition = 'escalate' THEN t.at END) AS escalated_at,
                 MIN(CASE WHEN t.to_state IN ('completed', 'declined', 'cancelled', 'abandoned') THEN t.at END)
                   AS closed_at,
                 MAX(CASE WHEN t.to_state = 'abandoned' THEN 1 ELSE 0 END) AS abandoned
          FROM workflow_transition t
          JOIN bounds b ON b.site_id = t.site_id
          JOIN referrals_referral r ON r.id = t.item_id
          WHERE t.workflow = 'referral' AND t.at < b.hi
          GROUP BY t.item_id, t.site_id, r.service_line_id, r.patient_ref, r.opened_at, r.outreach_attempts
        ) p
        """,
        service_line_column="service_line_id",
    )
)

TRIAGE = (
    "Start: the referral was received (its first log entry). End: the first triage decision "
    "(accept or decline). Counted in the period of the decision; referrals still undecided "
    "at the period end are not counted."
)

kpi_register(
    Kpi(
        key="referral_triage_median",
        name="Time to triage (median)",
        group=Group.CLINICAL,
        unit="h",
        better="lower",
        target=24,
        definition=TRIAGE,
        source="referrals",
        kind=Kind.MEDIAN,
        value="triage_s",
        event="triaged_at",
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
        source="referrals",
        kind=Kind.P90,
        value="triage_s",
        event="triaged_at",
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
        source="referrals",
        kind=Kind.MEDIAN,
        value="appointment_s",
        event="scheduled_at",
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
        source="referrals",
        kind=Kind.RATE,
        value="abandoned",
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
            "Numerator: triage decisions made before the SLA timer escalated the referral. "
            "Denominator: triage decisions in the period (the SLA clock counts opening hours and "
            "pauses while waiting on the referrer; an escalation is logged when it runs out)."
        ),
        source="referrals",
        kind=Kind.RATE,
        value="triage_in_sla",
        event="triaged_at",
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
        source="referrals",
        kind=Kind.MEAN,
        value="CASE WHEN scheduled_at IS NOT NULL THEN outreach_attempts END",
        event="scheduled_at",
    )
)
