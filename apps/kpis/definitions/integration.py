"""Integration KPIs from the EHR inbox and outbox. Messages belong to an EHR source, not a site,
so these are the same whichever sites are chosen; the period is read in the first chosen
site's time zone."""

from typing import Any

from django.db import connection

from apps.ehr.selectors import INBOX_MESSAGES_SQL, OUTBOX_MESSAGES_SQL

from . import Group, Kind, Kpi, Source, kpi_register, source_register

SECOND = 1.0

source_register(
    Source(
        key="inbox",
        sql=f"""
        SELECT m.id AS item_id, CAST(NULL AS integer) AS site_id, m.resource_type AS resource_type, m.status AS status,
               m.received_at AS received_at, m.processed_at AS processed_at,
               CASE WHEN m.status = 'processed' AND m.ehr_last_updated IS NOT NULL AND m.channel <> 'bulk'
                    THEN SECS(m.processed_at, m.ehr_last_updated) END AS latency_s,
               CASE WHEN m.status = 'dead' OR m.error_code <> '' THEN 1 ELSE 0 END AS payload_error
        FROM {INBOX_MESSAGES_SQL} m
        """,  # noqa: S608 - SQL from KPI definitions; values are parameters
        site_scoped=False,
        drill_columns=("item_id", "resource_type", "status"),
        patient_data=False,
    )
)
source_register(
    Source(
        key="outbox",
        sql=f"""
        SELECT m.id AS item_id, CAST(NULL AS integer) AS site_id, m.resource_type AS resource_type, m.status AS status,
               m.created_at AS created_at,
               CASE WHEN m.status = 'sent' THEN 1 WHEN m.status = 'dead' THEN 0 END AS delivered
        FROM {OUTBOX_MESSAGES_SQL} m
        """,  # noqa: S608 - SQL from KPI definitions; values are parameters
        site_scoped=False,
        drill_columns=("item_id", "resource_type", "status"),
        patient_data=False,
    )
)

kpi_register(
    Kpi(
        key="int_delivery_success",
        name="Event delivery success",
        group=Group.TECHNICAL,
        unit="%",
        better="higher",
        target=99,
        definition=(
            "Numerator: updates to the EHR (outbox) created in the period and delivered. Denominator: "
            "those delivered or given up on (dead letters); ones still being retried are not counted yet."
        ),
        source="outbox",
        kind=Kind.RATE,
        value="i.delivered",
        event="created_at",
    )
)
kpi_register(
    Kpi(
        key="int_event_latency",
        name="Event latency (median)",
        group=Group.TECHNICAL,
        unit="s",
        better="lower",
        target=60,
        definition=(
            "Start: the EHR's event time (meta.lastUpdated). End: the message was processed here. "
            "Messages processed in the period, as on the integration console: bulk-file imports are "
            "left out (their event times are history, not lag)."
        ),
        source="inbox",
        kind=Kind.MEDIAN,
        value="i.latency_s",
        event="processed_at",
        scale=SECOND,
    )
)
kpi_register(
    Kpi(
        key="int_payload_errors",
        name="Payload error rate",
        group=Group.TECHNICAL,
        unit="%",
        better="lower",
        target=1,
        definition=(
            "Numerator: inbound messages received in the period that failed validation or processing "
            "(an error code, or a dead letter). Denominator: inbound messages received in the period."
        ),
        source="inbox",
        kind=Kind.RATE,
        value="i.payload_error",
        event="received_at",
    )
)


def dead_letters_open(scope: Any) -> Any:
    """Dead letters (inbox and outbox) waiting for someone now: a live count, not a period's."""
    from ..engine import Result

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT COUNT(*) FROM {INBOX_MESSAGES_SQL} i WHERE i.status = 'dead')"  # noqa: S608 - no values
            f" + (SELECT COUNT(*) FROM {OUTBOX_MESSAGES_SQL} o WHERE o.status = 'dead')"
        )
        (count,) = cursor.fetchone()
    return Result(DEAD_LETTERS, float(count), count, [None] * scope.weeks)


DEAD_LETTERS = kpi_register(
    Kpi(
        key="int_dead_letters",
        name="Dead letters open",
        group=Group.TECHNICAL,
        unit="messages",
        better="lower",
        target=0,
        definition="Inbound and outbound dead letters not yet replayed, now (whatever the period).",
        kind=Kind.COUNT,
        snapshot=dead_letters_open,
    )
)
