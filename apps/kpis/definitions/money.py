"""Money and capacity (the financial side of a balanced scorecard), from the shared log scan.

Standard minutes per action turn the transition log into staff time: each staff transition
(``source = 'staff'``; the EHR's and the timers' cost no one's time) counts its standard
minutes, and each outreach attempt recorded on a referral counts ``OUTREACH_MINUTES``. Against
a baseline, the comparison turns the difference in minutes per closed item into labour hours
saved, and the difference in no-show rate into no-shows avoided (``Kpi.tags``).

A site's leaders set its own minutes per action on the standard minutes page (``StandardMinutes``,
audited); the shipped defaults below fill the rest. Decisions: outreach attempts count the shipped
``OUTREACH_MINUTES`` whatever their channel (per-channel minutes are not built); an item's minutes
count in the period it closed, all its logged actions whenever they happened."""

from apps.referrals.selectors import REFERRAL_FACTS_SQL

from . import Group, Kind, Kpi, intake, kpi_register, operations, referrals, results  # noqa: F401  (their tiles first)
from .log import log_column_register

MINUTE = 60.0
HOUR = 3600.0
# (workflow, transition) → standard minutes of one staff action. Claiming, releasing and
# reassigning are bookkeeping (0); any other staff action counts OTHER_ACTION_MINUTES.
STANDARD_MINUTES: dict[tuple[str, str], float] = {
    ("referral", "triage"): 5,
    ("referral", "accept"): 4,
    ("referral", "decline"): 6,
    ("referral", "request_info"): 5,
    ("referral", "start_scheduling"): 2,
    ("referral", "schedule"): 8,
    ("referral", "unschedule"): 5,
    ("referral", "abandon"): 3,
    ("referral", "cancel"): 3,
    ("result", "review"): 4,
    ("result", "notify"): 6,
    ("result", "schedule_follow_up"): 8,
    ("result", "close"): 2,
    ("intake", "start"): 3,
    ("intake", "check_in"): 3,
    ("intake", "mark_no_show"): 2,
}
BOOKKEEPING = ("claim", "release", "reassign", "escalate")
OTHER_ACTION_MINUTES = 2.0
OUTREACH_MINUTES = 6.0  # one contact attempt with the patient (phone, text, letter, portal)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def site_minutes() -> dict[tuple[int, str, str], float]:
    """(site id, workflow, action) → the standard minutes a site's leaders set."""
    from ..models import StandardMinutes

    return {(m.site_id, m.workflow, m.action): m.minutes for m in StandardMinutes.objects.all()}


def _minutes_case() -> str:
    """Per transition row ``x``: its standard minutes (a site's own first, then the defaults);
    built when a scorecard runs. Numbers are written as float literals, names quoted."""
    own = " ".join(
        f"WHEN x.site_id = {int(site)} AND x.workflow = {_quoted(w)} AND x.transition = {_quoted(t)} THEN {float(m)}"
        for (site, w, t), m in site_minutes().items()
    )
    whens = " ".join(
        f"WHEN x.workflow = {_quoted(w)} AND x.transition = {_quoted(t)} THEN {float(m)}"
        for (w, t), m in STANDARD_MINUTES.items()
    )
    bookkeeping = ", ".join(_quoted(t) for t in BOOKKEEPING)
    return (
        f"SUM(CASE WHEN x.source <> 'staff' OR x.transition IN ({bookkeeping}) THEN 0 "
        f"{own} {whens} ELSE {OTHER_ACTION_MINUTES} END)"
    )


log_column_register("staff_min", _minutes_case)
OUTREACH = f"LEFT JOIN {REFERRAL_FACTS_SQL} mr ON mr.id = i.item_id AND i.workflow = 'referral'"
STAFF_SECONDS = f"60.0 * (i.staff_min + {OUTREACH_MINUTES} * COALESCE(mr.outreach_attempts, 0))"
HOW = (
    "Standard minutes per action (the site's own where its leaders set them, else the defaults, "
    "e.g. a triage decision 4–6 min, booking 8 min, a result review "
    f"4 min, each outreach attempt {OUTREACH_MINUTES:g} min; the EHR's and timers' steps cost none) "
    "over every staff action logged on the item. Items closed in the period, all their actions "
    "whenever they happened; open items are not counted until they close."
)

kpi_register(
    Kpi(
        key="money_staff_hours",
        name="Staff hours spent",
        group=Group.FINANCIAL,
        unit="h",
        better="lower",
        target=None,
        definition="Total staff time on the items closed in the period. " + HOW,
        source="log",
        kind=Kind.SUM,
        value=STAFF_SECONDS,
        join=OUTREACH,
        event="closed_at",
        scale=HOUR,
    )
)
kpi_register(
    Kpi(
        key="money_minutes_per_item",
        name="Staff minutes per closed item",
        group=Group.FINANCIAL,
        unit="min",
        better="lower",
        target=None,
        definition=(
            "Mean staff time per item closed in the period. Against a baseline, the difference times "
            "the pilot's closed items is the labour hours saved. " + HOW
        ),
        source="log",
        kind=Kind.MEAN,
        value=STAFF_SECONDS,
        join=OUTREACH,
        event="closed_at",
        scale=MINUTE,
        tags=("hours_saved",),
    )
)
