"""Workaround detection: rules over the EHR feed's effects and the transition log that flag work
done around clinops. Each rule is one SQL statement over the apps' SQL relations; a flag is kept
once per item and rule (``WorkaroundFlag``), with a reason in plain words and no patient data.

- booked_untriaged: the EHR booked an appointment for a referral that never passed triage here;
- closed_untouched: the EHR or a timer closed an item no member of staff ever acted on;
- ping_pong: an item reassigned or moved between queues more than ``PING_PONG_MAX`` times;
- side_channel: a note or an outreach note mentions a word of the list (fax, spreadsheet…);
- double_entry: an item entered by hand that the EHR then sent too (a referral the EHR's found
  to be a possible duplicate of it; a walk-in whose visit the EHR booked the same day).
"""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils.dateparse import parse_datetime

from apps.intake.selectors import INTAKE_FACTS_SQL
from apps.kpis.definitions.log import CLOSED_STATES
from apps.kpis.sql import ts_param
from apps.referrals.selectors import REFERRAL_FACTS_SQL
from apps.workflow.selectors import NOTES_SQL, OUTREACH_NOTES_SQL, TRANSITION_LOG_SQL

from .models import Rule, WorkaroundFlag, WorkaroundWord

TL = TRANSITION_LOG_SQL


def ping_pong_max() -> int:
    return int(getattr(settings, "GOVERNANCE_PING_PONG_MAX", 3))


def _quoted(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values) or "''"


def _closing() -> str:
    parts = [f"(t.workflow = '{wf}' AND t.to_state IN ({_quoted(states)}))" for wf, states in CLOSED_STATES.items()]
    return " OR ".join(parts) or "1 = 0"


def _rows(sql: str, params: list[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _recent() -> str:
    """A join keeping the log rows of items with an entry in the period (parameters: lo, hi): each
    rule's own event is such an entry, so the whole log is never grouped, only these items' rows."""
    ts = ts_param()
    return (
        f"JOIN (SELECT DISTINCT r.workflow AS workflow, r.item_id AS item_id FROM {TL} r "  # noqa: S608
        f"WHERE r.at >= {ts} AND r.at < {ts}) recent ON recent.workflow = t.workflow AND recent.item_id = t.item_id"
    )


# Each rule: rows (workflow, item_id, site_id, service_line_id, at, reason detail).
def _booked_untriaged(lo: datetime, hi: datetime) -> list[tuple]:
    booked = "t.source = 'ehr' AND t.to_state IN ('scheduled', 'confirmed', 'completed')"
    ts = ts_param()
    sql = f"""
    SELECT 'referral', t.item_id, MAX(t.site_id), MAX(t.service_line_id), MIN(CASE WHEN {booked} THEN t.at END), ''
    FROM {TL} t {_recent()} WHERE t.workflow = 'referral'
    GROUP BY t.item_id
    HAVING MIN(CASE WHEN {booked} THEN t.at END) >= {ts} AND MIN(CASE WHEN {booked} THEN t.at END) < {ts}
       AND SUM(CASE WHEN t.to_state = 'accepted' THEN 1 ELSE 0 END) = 0
    """  # noqa: S608 - relations from the models; values are parameters
    return _rows(sql, [lo, hi, lo, hi])


def _closed_untouched(lo: datetime, hi: datetime) -> list[tuple]:
    closing = _closing()
    ts = ts_param()
    sql = f"""
    SELECT t.workflow, t.item_id, MAX(t.site_id), MAX(t.service_line_id), MIN(CASE WHEN {closing} THEN t.at END),
           MIN(CASE WHEN {closing} THEN t.source END)
    FROM {TL} t {_recent()} WHERE t.workflow IN ({_quoted(CLOSED_STATES)})
    GROUP BY t.workflow, t.item_id
    HAVING MIN(CASE WHEN {closing} THEN t.at END) >= {ts} AND MIN(CASE WHEN {closing} THEN t.at END) < {ts}
       AND SUM(CASE WHEN t.source = 'staff' THEN 1 ELSE 0 END) = 0
    """  # noqa: S608 - relations from the models and registered state names; values are parameters
    return _rows(sql, [lo, hi, lo, hi])


def _ping_pong(lo: datetime, hi: datetime) -> list[tuple]:
    ts = ts_param()
    handoff = "t.transition IN ('reassign', 'move')"
    sql = f"""
    SELECT t.workflow, t.item_id, MAX(t.site_id), MAX(t.service_line_id), MAX(CASE WHEN {handoff} THEN t.at END),
           SUM(CASE WHEN {handoff} THEN 1 ELSE 0 END)
    FROM {TL} t {_recent()}
    GROUP BY t.workflow, t.item_id
    HAVING SUM(CASE WHEN {handoff} THEN 1 ELSE 0 END) > %s
       AND MAX(CASE WHEN {handoff} THEN t.at END) >= {ts} AND MAX(CASE WHEN {handoff} THEN t.at END) < {ts}
    """  # noqa: S608 - relations from the models; values are parameters
    return _rows(sql, [lo, hi, ping_pong_max(), lo, hi])


def _side_channel(lo: datetime, hi: datetime) -> list[tuple]:
    words = list(WorkaroundWord.objects.values_list("word", flat=True))
    if not words:
        return []
    ts = ts_param()
    found: dict[tuple[str, int], tuple] = {}
    for relation, what in ((NOTES_SQL, "A note"), (OUTREACH_NOTES_SQL, "An outreach note")):
        matches = " OR ".join("LOWER(n.text) LIKE %s" for _ in words)
        sql = f"""
        SELECT n.workflow, n.item_id, n.site_id, n.at, n.text FROM {relation} n
        WHERE n.at >= {ts} AND n.at < {ts} AND ({matches}) ORDER BY n.at
        """  # noqa: S608 - relations from the models; values are parameters
        for workflow, item_id, site_id, at, text in _rows(sql, [lo, hi, *[f"%{w.lower()}%" for w in words]]):
            word = next(w for w in words if w.lower() in text.lower())
            # Only the word is kept, never the note's text (it may name the patient).
            found.setdefault((workflow, item_id), (workflow, item_id, site_id, None, at, f"{what} mentions “{word}”"))
    lines = _service_lines(list(found))
    return [(w, i, s, lines.get((w, i)), at, reason) for (w, i, s, _, at, reason) in found.values()]


def _service_lines(items: list[tuple[str, int]]) -> dict[tuple[str, int], int | None]:
    if not items:
        return {}
    out: dict[tuple[str, int], int | None] = {}
    for workflow in {w for w, _ in items}:
        ids = [i for w, i in items if w == workflow]
        marks = ", ".join("%s" for _ in ids)
        sql = (
            f"SELECT t.item_id, MAX(t.service_line_id) FROM {TL} t "  # noqa: S608 - a relation from the model
            f"WHERE t.workflow = %s AND t.item_id IN ({marks}) GROUP BY t.item_id"
        )
        out.update({(workflow, i): line for i, line in _rows(sql, [workflow, *ids])})
    return out


def _double_entry(lo: datetime, hi: datetime) -> list[tuple]:
    ts = ts_param()
    referrals = f"""
    SELECT 'referral', h.id, MAX(t.site_id), MAX(t.service_line_id), MIN(e.opened_at), MIN(e.id)
    FROM {REFERRAL_FACTS_SQL} e
    JOIN {REFERRAL_FACTS_SQL} h ON h.id = e.duplicate_of_id AND h.entered_by_hand
    JOIN {TL} t ON t.workflow = 'referral' AND t.item_id = h.id
    WHERE NOT e.entered_by_hand AND e.opened_at >= {ts} AND e.opened_at < {ts}
    GROUP BY h.id
    """  # noqa: S608 - relations from the models; values are parameters
    intakes = f"""
    SELECT 'intake', h.id, h.site_id, h.service_line_id, MIN(e.visit_start), MIN(e.id)
    FROM {INTAKE_FACTS_SQL} h
    JOIN {INTAKE_FACTS_SQL} e ON e.patient_ref = h.patient_ref AND e.site_id = h.site_id AND e.id <> h.id
         AND NOT e.entered_by_hand AND DATE(e.visit_start) = DATE(h.visit_start)
    WHERE h.entered_by_hand AND h.patient_ref <> '' AND h.visit_start >= {ts} AND h.visit_start < {ts}
    GROUP BY h.id, h.site_id, h.service_line_id
    """  # noqa: S608 - relations from the models; values are parameters
    return _rows(referrals, [lo, hi]) + _rows(intakes, [lo, hi])


def _reason(rule: str, detail: Any) -> str:
    if rule == Rule.BOOKED_UNTRIAGED:
        return "The EHR booked an appointment, but the referral never passed triage here."
    if rule == Rule.CLOSED_UNTOUCHED:
        who = {"ehr": "the EHR", "timer": "a timer", "system": "the system"}.get(str(detail), "the EHR or a timer")
        return f"Closed by {who}; nobody on staff acted on it here."
    if rule == Rule.PING_PONG:
        return f"Reassigned or moved {int(detail)} times (more than {ping_pong_max()})."
    if rule == Rule.DOUBLE_ENTRY:
        return f"Entered by hand, and the EHR sent it too (as item {detail})."
    return str(detail)


RULES = {
    Rule.BOOKED_UNTRIAGED: _booked_untriaged,
    Rule.CLOSED_UNTOUCHED: _closed_untouched,
    Rule.PING_PONG: _ping_pong,
    Rule.SIDE_CHANNEL: _side_channel,
    Rule.DOUBLE_ENTRY: _double_entry,
}


@transaction.atomic
def workarounds_detect(*, since: datetime, until: datetime) -> int:
    """Run every rule over what happened in [since, until) and keep a flag for each new (item, rule);
    a flag already kept stays as it was (running twice changes nothing). Returns how many are new."""
    flags = []
    for rule, find in RULES.items():
        for workflow, item_id, site_id, line_id, at, detail in find(since, until):
            if site_id is None or at is None:
                continue
            flags.append(
                WorkaroundFlag(
                    workflow=workflow,
                    item_id=item_id,
                    site_id=site_id,
                    service_line_id=line_id,
                    rule=rule,
                    reason=_reason(rule, detail)[:300],
                    at=_aware(at),
                )
            )
    before = WorkaroundFlag.objects.count()
    WorkaroundFlag.objects.bulk_create(flags, ignore_conflicts=True)
    return WorkaroundFlag.objects.count() - before


def _aware(at: Any) -> datetime:
    """A timestamp from a raw query (SQLite returns text, PostgreSQL an aware datetime)."""
    if isinstance(at, datetime):
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    parsed = parse_datetime(str(at))
    if parsed is None:
        raise ValueError(f"not a timestamp: {at!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
