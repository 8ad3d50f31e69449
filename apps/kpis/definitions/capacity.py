"""Capacity and outreach time (money and capacity group).

- Outreach time per channel: every contact attempt with a patient (any workflow) counts the
  standard minutes of its channel: the site's own (set by its leaders on the standard minutes
  page as "Outreach: <channel>") or the shipped default below. One tile per channel.
- Visit slots recovered: an earlier slot freed by a cancellation and offered to a waiting
  patient who accepted it (the referrals wait list). Decision: no-show slots refilled are not
  counted: nothing records a no-show's slot being given to someone else.

Decision: the staff hours per closed item (``money.py``) keep counting each outreach attempt
recorded on a referral at ``OUTREACH_MINUTES``; these tiles count the attempts themselves, by
channel, in the period they were made."""

from apps.referrals.selectors import SLOT_OFFERS_SQL
from apps.workflow.selectors import OUTREACH_CHANNELS, OUTREACH_SQL

from . import Group, Kind, Kpi, Source, kpi_register, money, source_register

MINUTE = 60.0
HOUR = 3600.0
OUTREACH = "outreach"  # the workflow name of channel minutes on the standard minutes page
# Shipped standard minutes of one contact attempt, per channel.
CHANNEL_MINUTES: dict[str, float] = {"phone": 6, "sms": 2, "email": 3, "portal": 2, "letter": 5}
DEFAULT_CHANNEL_MINUTES = 4.0  # a channel added later without a default


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _channel_minutes() -> str:
    """Per attempt ``o``: its channel's standard minutes, the site's own first (built when a
    scorecard runs; numbers as float literals, names quoted)."""
    own = " ".join(
        f"WHEN o.site_id = {int(site)} AND o.channel = {_quoted(action)} THEN {float(m)}"
        for (site, workflow, action), m in money.site_minutes().items()
        if workflow == OUTREACH
    )
    shipped = " ".join(f"WHEN o.channel = {_quoted(c)} THEN {float(m)}" for c, m in CHANNEL_MINUTES.items())
    return f"CASE {own} {shipped} ELSE {DEFAULT_CHANNEL_MINUTES} END"


def _outreach_sql() -> str:
    return f"""
    SELECT o.workflow AS workflow, o.item_id AS item_id, o.site_id AS site_id, '' AS patient_ref,
           o.channel AS channel, o.at AS at, 60.0 * ({_channel_minutes()}) AS seconds
    FROM {OUTREACH_SQL} o
    JOIN bounds ob ON ob.site_id = o.site_id
    WHERE o.at >= ob.lo AND o.at < ob.hi
    """  # noqa: S608 - SQL from KPI definitions; values are parameters


source_register(
    Source(key="outreach_time", sql=_outreach_sql, drill_columns=("workflow", "item_id", "site_id", "patient_ref"))
)

for channel, label in OUTREACH_CHANNELS:
    kpi_register(
        Kpi(
            key=f"capacity_outreach_{channel}",
            name=f"Outreach time: {label.lower()}",
            group=Group.FINANCIAL,
            unit="h",
            better="lower",
            target=None,
            definition=(
                f"Staff time on contact attempts with patients by {label.lower()} made in the period (every "
                f"workflow): each attempt counts the site's standard minutes for this channel (shipped default "
                f"{CHANNEL_MINUTES.get(channel, DEFAULT_CHANNEL_MINUTES):g} min; the site's leaders may set their "
                "own on the standard minutes page), whether or not the patient was reached."
            ),
            source="outreach_time",
            kind=Kind.SUM,
            value=f"CASE WHEN i.channel = {_quoted(channel)} THEN i.seconds END",
            event="at",
            scale=HOUR,
        )
    )


source_register(
    Source(
        key="slots_recovered",
        sql=f"""
        SELECT so.referral_id AS item_id, so.site_id AS site_id, '' AS patient_ref,
               'referral' AS workflow, so.decided_at AS decided_at,
               CASE WHEN so.status = 'accepted' THEN 1 END AS recovered
        FROM {SLOT_OFFERS_SQL} so
        JOIN bounds sb ON sb.site_id = so.site_id
        WHERE so.decided_at >= sb.lo AND so.decided_at < sb.hi
        """,  # noqa: S608 - SQL from KPI definitions; values are parameters
        drill_columns=("workflow", "item_id", "site_id", "patient_ref"),
    )
)
kpi_register(
    Kpi(
        key="capacity_slots_recovered",
        name="Visit slots recovered",
        group=Group.FINANCIAL,
        unit="slots",
        better="higher",
        target=None,
        definition=(
            "Visit slots freed by a cancellation and refilled: earlier slots offered to a patient on the "
            "wait list who accepted, counted in the period they accepted. Each one is a visit that would "
            "otherwise have gone empty, and a later slot given back for the next patient. Slots left by "
            "no-shows are not counted: nothing records them being given to someone else."
        ),
        source="slots_recovered",
        kind=Kind.COUNT,
        value="i.recovered",
        event="decided_at",
    )
)
