"""FHIR ``date`` search values: a prefix and a value of some precision, read as a UTC interval.

A value without a time zone is taken as UTC (the store keeps UTC). ``2025-03`` is the
interval [2025-03-01, 2025-04-01); ``2025-03-01T10:00:00Z`` is one second; a fraction of n
digits is 10^-n seconds.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from django.db.models import Q

SUPPORTED_PREFIXES = ("eq", "gt", "ge", "lt", "le")
KNOWN_PREFIXES = (*SUPPORTED_PREFIXES, "ne", "sa", "eb", "ap")

_VALUE = re.compile(
    r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?\Z",
    re.ASCII,
)


class DateValueError(ValueError):
    """A date search value that cannot be read; the message says why."""


@dataclass(frozen=True)
class DateBound:
    prefix: str
    lower: datetime  # inclusive
    upper: datetime  # exclusive

    def q(self, field: str) -> Q:
        """The filter on ``field`` (an instant) that FHIR's prefix semantics give for this interval."""
        if self.prefix == "eq":
            return Q(**{f"{field}__gte": self.lower, f"{field}__lt": self.upper})
        if self.prefix == "gt":
            return Q(**{f"{field}__gte": self.upper})
        if self.prefix == "ge":
            return Q(**{f"{field}__gte": self.lower})
        if self.prefix == "lt":
            return Q(**{f"{field}__lt": self.lower})
        return Q(**{f"{field}__lt": self.upper})  # le


def _tz(text: str | None) -> timezone:
    if not text or text == "Z":
        return UTC
    sign = 1 if text[0] == "+" else -1
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 23 or minutes > 59:
        raise DateValueError(f"time zone {text} is out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _interval(parts: dict[str, str | None]) -> tuple[datetime, datetime]:
    year = int(parts["year"] or 0)
    if parts["month"] is None:
        return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    month = int(parts["month"])
    if parts["day"] is None:
        lower = datetime(year, month, 1, tzinfo=UTC)
        upper = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return lower, upper
    day = datetime(year, month, int(parts["day"]), tzinfo=UTC)
    if parts["hour"] is None:
        return day, day + timedelta(days=1)
    fraction = (parts["fraction"] or "")[:6]
    lower = datetime(
        year,
        month,
        day.day,
        int(parts["hour"]),
        int(parts["minute"] or 0),
        int(parts["second"] or 0),
        int(fraction.ljust(6, "0")) if fraction else 0,
        tzinfo=_tz(parts["tz"]),
    ).astimezone(UTC)
    if parts["second"] is None:
        step = timedelta(minutes=1)
    elif fraction:
        step = timedelta(microseconds=10 ** (6 - len(fraction)))
    else:
        step = timedelta(seconds=1)
    return lower, lower + step


def date_bound_parse(text: str) -> DateBound:
    """Read ``[prefix]value`` (e.g. ``ge2025-01-01``) as a DateBound; DateValueError says what is wrong."""
    prefix = "eq"
    if text[:2].isalpha():
        prefix, text = text[:2], text[2:]
        if prefix not in KNOWN_PREFIXES:
            raise DateValueError(f"unknown prefix {prefix!r}; use one of {', '.join(SUPPORTED_PREFIXES)}")
        if prefix not in SUPPORTED_PREFIXES:
            raise DateValueError(f"prefix {prefix!r} is not supported; use one of {', '.join(SUPPORTED_PREFIXES)}")
    match = _VALUE.match(text)
    if match is None:
        raise DateValueError(f"{text!r} is not a FHIR date such as 2025-01-31 or 2025-01-31T09:30:00Z")
    try:
        lower, upper = _interval(match.groupdict())
    except (ValueError, OverflowError) as exc:
        raise DateValueError(f"{text!r} is not a valid date ({exc})") from exc
    return DateBound(prefix, lower, upper)
