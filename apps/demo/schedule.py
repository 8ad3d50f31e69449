"""The simulated EHR's clinic schedules (issue 15): a Schedule per specialist of the generator's
reference data (``Practitioner/prac-<specialty>-<n>`` at their site's ``Location/loc-<code>``) and
free half-hour Slots on the coming weekdays, published into clinops's inbox like a poll of the EHR,
so a scheduler can find and book slots in ``make run``. Deterministic ids: publishing again the
same day changes nothing."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .generator import CANONICAL, SITES, SPECIALTIES, SPECIALTY_SITE

CLINIC_HOURS = [time(9, 0), time(9, 30), time(10, 30), time(11, 0), time(14, 0), time(15, 30)]


def demo_schedule(*, today: date, days: int = 14) -> list[dict]:
    """Schedules and free Slots for the ``days`` weekdays after ``today`` (site local times)."""
    zones = {code: ZoneInfo(tz) for code, _, tz in SITES}
    resources: list[dict] = []
    for specialty in SPECIALTIES:
        site = SPECIALTY_SITE.get(CANONICAL.get(specialty.code, ""), "north")
        for index in range(2):
            prac_id = f"prac-{specialty.code}-{index}"
            schedule_id = f"sched-{prac_id}"
            resources.append({
                "resourceType": "Schedule", "id": schedule_id, "meta": {"versionId": "1"}, "active": True,
                "specialty": [specialty.concept()],
                "actor": [{"reference": f"Practitioner/{prac_id}"}, {"reference": f"Location/loc-{site}"}],
            })  # fmt: skip
            day, added = today, 0
            while added < days:
                day += timedelta(days=1)
                if day.weekday() >= 5:
                    continue
                added += 1
                for at in CLINIC_HOURS[index::2]:  # the two clinicians take turns
                    start = datetime.combine(day, at, tzinfo=zones[site]).astimezone(UTC)
                    resources.append({
                        "resourceType": "Slot", "id": f"slot-{prac_id}-{start:%Y%m%d%H%M}", "meta": {"versionId": "1"},
                        "schedule": {"reference": f"Schedule/{schedule_id}"}, "status": "free",
                        "start": f"{start:%Y-%m-%dT%H:%M:%SZ}",
                        "end": f"{start + timedelta(minutes=30):%Y-%m-%dT%H:%M:%SZ}",
                    })  # fmt: skip
    return resources


def demo_slots_publish(*, source_name: str = "demo-ehr", today: date | None = None) -> int:
    """Put the simulated EHR's schedules into clinops's inbox (channel poll); returns how many resources."""
    from apps.ehr.models import EhrSource, InboxMessage
    from apps.ehr.services.inbox import inbox_receive

    source = EhrSource.objects.filter(name=source_name).first()
    if source is None:
        return 0
    resources = demo_schedule(today=today or datetime.now(UTC).date())
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    inbox_receive(source=source, body=bundle, channel=InboxMessage.Channel.POLL)
    return len(resources)
