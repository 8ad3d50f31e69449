"""What a scorecard is computed over: a period of local dates, sites, a service line."""

import math
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.utils.formats import date_format

from apps.core.models import Site

NO_SITE = 0  # the bounds row for items that belong to no site (EHR messages)


@dataclass(frozen=True)
class Scope:
    """Dates are the sites' own calendar days: ``start`` 00:00 to ``end`` 24:00 local time."""

    start: date
    end: date  # inclusive
    sites: tuple[Site, ...]
    service_line_id: int | None = None
    by_hand: bool | None = None  # True: only items entered by hand; False: only the EHR's; None: all

    @property
    def weeks(self) -> int:
        return max(math.ceil(((self.end - self.start).days + 1) / 7), 1)

    @property
    def site_ids(self) -> list[int]:
        return [site.id for site in self.sites]

    def label(self) -> str:
        where = ", ".join(site.name for site in self.sites) if len(self.sites) < 4 else f"{len(self.sites)} sites"
        return f"{date_format(self.start)} – {date_format(self.end)} · {where}"


def local_bounds(day_from: date, day_to: date, tz: str) -> tuple[datetime, datetime]:
    """UTC instants of local midnight at the start of ``day_from`` and the end of ``day_to``."""
    zone = zoneinfo.ZoneInfo(tz)
    lo = datetime.combine(day_from, time(), tzinfo=zone).astimezone(UTC)
    hi = datetime.combine(day_to + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    return lo, hi


def bounds(scope: Scope) -> list[tuple[int, datetime, datetime]]:
    """(site id, lo, hi) per site, plus a row for site-less items in the first site's zone."""
    rows = [(site.id, *local_bounds(scope.start, scope.end, site.timezone)) for site in scope.sites]
    zone = scope.sites[0].timezone if scope.sites else "UTC"
    rows.append((NO_SITE, *local_bounds(scope.start, scope.end, zone)))
    return rows
