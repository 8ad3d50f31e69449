"""A small hand-made referral history with known answers (New York site, March 2026: the
clocks go forward on 8 March, and the last decision falls on the period's last local evening)."""

from datetime import UTC, date, datetime
from typing import Any

from apps.workflow.models import Transition
from tests.plugins.referrals import ReferralFactory

START, END = date(2026, 3, 2), date(2026, 3, 15)  # two weeks, local dates


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def log(referral: Any, name: str, to_state: str, at: datetime, *, role: str = "", source: str = "staff") -> None:
    Transition.objects.create(
        workflow="referral", item_id=referral.pk, site_id=referral.site_id, transition=name, from_state="",
        to_state=to_state, actor_role=role, source=source, at=at, service_line_id=referral.service_line_id,
    )  # fmt: skip


def referral(site: Any, opened: datetime, *, closed: datetime | None = None, outreach: int = 0, **fields: Any) -> Any:
    made = ReferralFactory(site=site, opened_at=opened, outreach_attempts=outreach, **fields)
    type(made).objects.filter(pk=made.pk).update(opened_at=opened, closed_at=closed, is_open=closed is None)
    log(made, "receive", "received", opened, source="ehr")
    return made


def build(site: Any) -> dict[str, Any]:
    """Triage hours: a 10, b 30, c 20 (escalated first), e 4 (decided 23:30 local on the last day);
    f is decided 00:30 local the day after; d is still undecided."""
    a = referral(site, utc(2026, 3, 2, 14), closed=utc(2026, 3, 12, 14), outreach=2)
    log(a, "triage", "triage", utc(2026, 3, 2, 15), role="scheduler")
    log(a, "accept", "accepted", utc(2026, 3, 3, 0), role="clinician")
    log(a, "start_scheduling", "scheduling", utc(2026, 3, 3, 6), role="scheduler")
    log(a, "schedule", "scheduled", utc(2026, 3, 5, 14), source="ehr")
    log(a, "complete", "completed", utc(2026, 3, 12, 14), source="ehr")

    b = referral(site, utc(2026, 3, 3, 14), closed=utc(2026, 3, 4, 20))
    log(b, "decline", "declined", utc(2026, 3, 4, 20), role="clinician")

    c = referral(site, utc(2026, 3, 4, 14))
    log(c, "escalate", "triage", utc(2026, 3, 5, 5), source="timer")
    log(c, "accept", "accepted", utc(2026, 3, 5, 10), role="clinician")

    d = referral(site, utc(2026, 3, 10, 14))  # open at the period end, never triaged

    e = referral(site, utc(2026, 3, 15, 23, 30))
    log(e, "accept", "accepted", utc(2026, 3, 16, 3, 30), role="clinician")  # 23:30 EDT on the 15th

    f = referral(site, utc(2026, 3, 15, 20))
    log(f, "accept", "accepted", utc(2026, 3, 16, 4, 30), role="clinician")  # 00:30 EDT on the 16th

    g = referral(site, utc(2026, 2, 20, 14), closed=utc(2026, 3, 9, 15))
    log(g, "accept", "accepted", utc(2026, 2, 21, 14), role="clinician")
    log(g, "escalate", "accepted", utc(2026, 3, 1, 14), source="timer")
    log(g, "escalate", "accepted", utc(2026, 3, 6, 14), source="timer")
    log(g, "abandon", "abandoned", utc(2026, 3, 9, 15), role="scheduler")
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "g": g}
