"""Business time, pure: opening hours per weekday in a site's time zone, minus holidays.

SLA clocks count only business minutes (unless a policy says wall-clock): a referral due
"in 2 business days" received Friday 16:00 is due Tuesday 16:00, not Sunday.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_HOURS = {day: [("08:00", "17:00")] for day in DAYS[:5]}
MAX_DAYS = 3660  # a calendar with no opening hours must not loop for ever


def parse_hours(spec: dict[str, list]) -> dict[int, list[tuple[time, time]]]:
    """``{"mon": [["08:00", "12:00"], ["13:00", "17:00"]], …}`` → weekday → sorted intervals."""
    hours: dict[int, list[tuple[time, time]]] = {}
    for day, intervals in spec.items():
        if day not in DAYS:
            raise ValueError(f"unknown day {day!r}; use {', '.join(DAYS)}")
        parsed = []
        for start, end in intervals:
            opens, closes = time.fromisoformat(start), time.fromisoformat(end)
            if closes <= opens:
                raise ValueError(f"{day}: {start}–{end} closes before it opens")
            parsed.append((opens, closes))
        hours[DAYS.index(day)] = sorted(parsed)
    return hours


@dataclass(frozen=True)
class BusinessCalendar:
    tz: ZoneInfo
    hours: dict[int, list[tuple[time, time]]] = field(default_factory=lambda: parse_hours(DEFAULT_HOURS))
    holidays: frozenset[date] = frozenset()

    def _intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        if day in self.holidays:
            return []
        return [
            (datetime.combine(day, opens, self.tz), datetime.combine(day, closes, self.tz))
            for opens, closes in self.hours.get(day.weekday(), [])
        ]

    def add_minutes(self, start: datetime, minutes: float) -> datetime:
        """The moment ``minutes`` business minutes after ``start`` (UTC)."""
        remaining = timedelta(minutes=minutes)
        local = start.astimezone(self.tz)
        day = local.date()
        for _ in range(MAX_DAYS):
            for opens, closes in self._intervals(day):
                begin = max(opens, local)
                if begin >= closes:
                    continue
                if begin + remaining <= closes:
                    return (begin + remaining).astimezone(UTC)
                remaining -= closes - begin
            day += timedelta(days=1)
        raise ValueError("the calendar has no opening hours in ten years")

    def minutes_between(self, start: datetime, end: datetime) -> float:
        """Business minutes from ``start`` to ``end`` (0 if end is earlier)."""
        if end <= start:
            return 0.0
        total = timedelta()
        day, last = start.astimezone(self.tz).date(), end.astimezone(self.tz).date()
        while day <= last:
            for opens, closes in self._intervals(day):
                overlap = min(closes, end) - max(opens, start)
                if overlap > timedelta():
                    total += overlap
            day += timedelta(days=1)
        return total.total_seconds() / 60


@dataclass(frozen=True)
class WallClock:
    """A 24/7 clock, for SLAs that do not wait for opening hours (a critical result)."""

    def add_minutes(self, start: datetime, minutes: float) -> datetime:
        return start + timedelta(minutes=minutes)

    def minutes_between(self, start: datetime, end: datetime) -> float:
        return max((end - start).total_seconds() / 60, 0.0)
