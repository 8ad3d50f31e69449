"""Earlier-slot offer KPIs (issue 15's wait list), from the offers themselves (one row per
offer): offers made, offers accepted, and how many days sooner an accepted offer brought the
patient's appointment. Offers are placed in a period by when they were made, or accepted."""

from apps.referrals.selectors import OFFER_REFERRALS_SQL, SLOT_OFFERS_SQL

from . import Group, Kind, Kpi, Source, kpi_register, source_register

DAY = 86400.0

source_register(
    Source(
        key="slot_offers",
        sql=f"""
        SELECT 'referral' AS workflow, o.referral_id AS item_id, o.id AS offer_id, o.site_id AS site_id,
               r.service_line_id AS service_line_id, r.patient_ref AS patient_ref,
               r.entered_by_hand AS entered_by_hand, o.offered_at AS offered_at,
               CASE WHEN o.status = 'accepted' THEN o.decided_at END AS accepted_at,
               CASE WHEN o.status = 'accepted' THEN SECS(o.current_start, o.slot_start) END AS sooner_s
        FROM {SLOT_OFFERS_SQL} o
        JOIN {OFFER_REFERRALS_SQL} r ON r.id = o.referral_id
        """,  # noqa: S608 - SQL from KPI definitions; values are parameters
        service_line_column="service_line_id",
        drill_columns=("workflow", "item_id", "site_id", "patient_ref"),
        by_hand="s.entered_by_hand",
    )
)

kpi_register(
    Kpi(
        key="referral_offers_made",
        name="Earlier-slot offers made",
        group=Group.OPERATIONAL,
        unit="offers",
        better="higher",
        target=None,
        definition=(
            "Offers of a freed, earlier slot to a patient on the wait list, counted in the period the "
            "offer was made (a slot offered to several patients counts once per patient)."
        ),
        source="slot_offers",
        kind=Kind.COUNT,
        event="offered_at",
    )
)
kpi_register(
    Kpi(
        key="referral_offers_accepted",
        name="Earlier-slot offers accepted",
        group=Group.OPERATIONAL,
        unit="offers",
        better="higher",
        target=None,
        definition=(
            "Offers of an earlier slot the patient accepted (the appointment was rebooked into it), "
            "counted in the period of the acceptance."
        ),
        source="slot_offers",
        kind=Kind.COUNT,
        value="i.sooner_s",
        event="accepted_at",
    )
)
kpi_register(
    Kpi(
        key="referral_offer_days_sooner",
        name="Days sooner per accepted offer (mean)",
        group=Group.OPERATIONAL,
        unit="d",
        better="higher",
        target=None,
        definition=(
            "For each accepted offer: the start of the appointment the patient had, minus the start of "
            "the earlier slot they took, in days; the mean over the offers accepted in the period."
        ),
        source="slot_offers",
        kind=Kind.MEAN,
        value="i.sooner_s",
        event="accepted_at",
        scale=DAY,
    )
)
