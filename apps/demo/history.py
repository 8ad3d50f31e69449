"""Backfill the demo's history through ehr_import's service and the workflow services, with the
clock travelled to each slice of simulated time, so that EHR receipt times, work-item opening
times, staff actions and the transition log all carry realistic past times.

The generator's events are cut into slices (6 hours by default). For each slice in order the
clock is set to the slice's end (``time_machine``; it keeps ticking from there) and then

1. the slice's resources are written as Bulk NDJSON and imported with ``bulk_import`` (the
   service behind ``manage.py ehr_import``), exactly as a real backfill would arrive, and
2. every registered staff simulation (apps/demo/staff) acts on the items whose seeded delay
   has passed by then, through the services.

Nothing here writes to the database itself; only the present the services read is simulated.
"""

import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import time_machine
from django.utils import timezone

from apps.ehr.models import EhrSource
from apps.ehr.services.bulk_import import bulk_import
from apps.ehr.services.sources import source_upsert

from .delivery import ndjson_write
from .generator import Config, Event, Rates, simulate
from .staff import staff_simulate

# make run's history: three months at a modest volume (~1,900 resources; timing in README "Demo").
HISTORY_RATES = Rates(referrals_per_day=2.0, visits_per_day=1.5, labs_per_day=1.5)


@dataclass
class HistoryReport:
    resources: int = 0
    failed: int = 0
    slices: int = 0
    seconds: float = 0.0
    staff: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def history_slices(events: list[Event], *, start: datetime, end: datetime, hours: float) -> list[tuple[datetime, list]]:
    """The events cut into consecutive slices of ``hours``, each with its end time (empty ones too)."""
    width = timedelta(hours=hours)
    count = max(1, -(-int((end - start).total_seconds()) // int(width.total_seconds())))
    slices: list[tuple[datetime, list]] = [(min(start + width * (i + 1), end), []) for i in range(count)]
    for event in events:
        index = min(count - 1, max(0, int((event.at - start) / width)))
        slices[index][1].append(event)
    return slices


def history_load(
    *,
    source_name: str = "demo-ehr",
    days: float = 90,
    seed: int = 1,
    rates: Rates = HISTORY_RATES,
    now: datetime | None = None,
    slice_hours: float = 6.0,
    progress: Callable[[int, int], None] | None = None,
) -> HistoryReport:
    """Import ``days`` of simulated EHR history into ``source_name`` and let demo staff work it."""
    end = (now or timezone.now()).replace(microsecond=0)
    start = end - timedelta(days=days)
    source = EhrSource.objects.filter(name=source_name).first() or source_upsert(name=source_name)[0]
    events = simulate(Config(seed=seed, rates=rates), start=start, end=end)
    slices = history_slices(events, start=start, end=end, hours=slice_hours)
    report, started = HistoryReport(slices=len(slices)), time.monotonic()
    with tempfile.TemporaryDirectory(prefix="clinops-demo-") as tmp:
        for index, (slice_end, chunk) in enumerate(slices):
            with time_machine.travel(slice_end, tick=True):
                if chunk:
                    folder = Path(tmp) / f"{index:05d}"
                    ndjson_write(chunk, folder)
                    imported = bulk_import(source=source, paths=[folder])
                    report.resources += imported.resources
                    report.failed += imported.failed
                    report.errors.extend(imported.errors[:5])
                report.staff.update(staff_simulate(source_name=source_name, seed=seed, now=slice_end))
            if progress:
                progress(index + 1, len(slices))
    report.seconds = time.monotonic() - started
    return report
