"""Governance measures on the scorecard (registered with apps.kpis): friction reports filed and
how long they waited for an owner's acknowledgement, and the workaround rate."""

from apps.core.sql_relations import sql_relation
from apps.kpis.definitions import Group, Kind, Kpi, Source, kpi_register, source_register
from apps.workflow.selectors import TRANSITION_LOG_SQL

from .models import FrictionReport, WorkaroundFlag

HOUR = 3600.0

FRICTION_SQL = sql_relation(
    FrictionReport, id="id", site_id="site", created_at="created_at", acknowledged_at="acknowledged_at"
)
FLAGS_SQL = sql_relation(WorkaroundFlag, workflow="workflow", item_id="item_id")

source_register(
    Source(
        key="friction",
        sql=f"""
        SELECT f.id AS item_id, f.site_id AS site_id, f.created_at AS created_at,
               CASE WHEN f.acknowledged_at IS NOT NULL THEN SECS(f.acknowledged_at, f.created_at) END AS ack_s
        FROM {FRICTION_SQL} f
        """,  # noqa: S608 - a relation from the model; values are parameters
        drill_columns=("item_id", "site_id"),
        patient_data=False,
    )
)
# One row per work item first logged in the period, flagged (1) or not (0) by a workaround rule.
source_register(
    Source(
        key="workarounds",
        sql=f"""
        SELECT t.workflow AS workflow, t.item_id AS item_id, MAX(t.site_id) AS site_id,
               MAX(t.service_line_id) AS service_line_id, '' AS patient_ref, MIN(t.at) AS opened_at,
               CASE WHEN EXISTS (SELECT 1 FROM {FLAGS_SQL} g WHERE g.workflow = t.workflow AND g.item_id = t.item_id)
                    THEN 1 ELSE 0 END AS flagged
        FROM {TRANSITION_LOG_SQL} t
        JOIN bounds b ON b.site_id = t.site_id
        WHERE SCOPE_FILTER AND t.at < b.hi
        GROUP BY t.workflow, t.item_id
        """,  # noqa: S608 - relations from the models; values are parameters
        service_line_column="service_line_id",
        drill_columns=("workflow", "item_id", "site_id", "patient_ref"),
    )
)

kpi_register(
    Kpi(
        key="gov_friction_reports",
        name="Friction reports",
        group=Group.OPERATIONAL,
        unit="items",
        better="lower",
        target=None,
        definition='Friction reports staff filed in the period (the "Report friction" control on every page).',
        source="friction",
        kind=Kind.COUNT,
        event="created_at",
    )
)
kpi_register(
    Kpi(
        key="gov_friction_ack_median",
        name="Time to acknowledge friction (median)",
        group=Group.OPERATIONAL,
        unit="h",
        better="lower",
        target=48,
        definition=(
            "For the friction reports filed in the period and acknowledged since: the median time from the "
            "report to the first answer of an owner (acknowledged, fixed or won't fix)."
        ),
        source="friction",
        kind=Kind.MEDIAN,
        value="i.ack_s",
        event="created_at",
        scale=HOUR,
    )
)
kpi_register(
    Kpi(
        key="gov_workaround_rate",
        name="Workaround rate",
        group=Group.OPERATIONAL,
        unit="%",
        better="lower",
        target=5,
        definition=(
            "Share of the work items first logged in the period that a workaround rule flagged: booked in "
            "the EHR without triage here, closed with no staff action, handed back and forth, notes that "
            "mention a side channel (fax, spreadsheet…), or entered by hand and sent by the EHR too. The "
            "workarounds page lists each flag and its reason."
        ),
        source="workarounds",
        kind=Kind.RATE,
        value="i.flagged",
        event="opened_at",
    )
)
