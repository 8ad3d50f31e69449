"""Business time arithmetic (no database)."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.workflow.calendar import BusinessCalendar, WallClock, parse_hours

NY = ZoneInfo("America/New_York")
CAL = BusinessCalendar(tz=NY)  # Mon–Fri 08:00–17:00 New York


def ny(*args):
    return datetime(*args, tzinfo=NY)


def test_friday_afternoon_plus_two_business_days_is_tuesday():
    assert CAL.add_minutes(ny(2026, 3, 6, 16, 0), 2 * 9 * 60) == ny(2026, 3, 10, 16, 0).astimezone(UTC)


def test_received_at_night_starts_counting_at_opening():
    assert CAL.add_minutes(ny(2026, 3, 3, 22, 0), 30) == ny(2026, 3, 4, 8, 30).astimezone(UTC)


def test_holidays_are_skipped():
    cal = BusinessCalendar(tz=NY, holidays=frozenset({date(2026, 3, 4)}))
    assert cal.add_minutes(ny(2026, 3, 3, 16, 0), 120) == ny(2026, 3, 5, 9, 0).astimezone(UTC)


def test_daylight_saving_change_keeps_local_opening_hours():
    # US clocks go forward on Sunday 8 March 2026: Monday still opens at 08:00 local.
    assert CAL.add_minutes(ny(2026, 3, 6, 17, 0), 60) == ny(2026, 3, 9, 9, 0).astimezone(UTC)
    assert CAL.add_minutes(ny(2026, 3, 6, 17, 0), 60).hour == 13  # 09:00 EDT is 13:00 UTC


def test_split_shifts():
    cal = BusinessCalendar(tz=NY, hours=parse_hours({"mon": [["08:00", "12:00"], ["13:00", "17:00"]]}))
    assert cal.add_minutes(ny(2026, 3, 2, 11, 30), 60) == ny(2026, 3, 2, 13, 30).astimezone(UTC)


def test_minutes_between_counts_only_open_time():
    assert CAL.minutes_between(ny(2026, 3, 6, 16, 0), ny(2026, 3, 9, 9, 0)) == 120
    assert CAL.minutes_between(ny(2026, 3, 9, 9, 0), ny(2026, 3, 6, 16, 0)) == 0


def test_bad_hours_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="closes before it opens"):
        parse_hours({"mon": [["17:00", "08:00"]]})
    with pytest.raises(ValueError, match="unknown day"):
        parse_hours({"monday": [["08:00", "17:00"]]})


def test_a_calendar_with_no_hours_says_so():
    with pytest.raises(ValueError, match="no opening hours"):
        BusinessCalendar(tz=NY, hours={}).add_minutes(ny(2026, 3, 2, 9, 0), 1)


def test_wall_clock_counts_every_minute():
    start = datetime(2026, 3, 7, 23, 30, tzinfo=UTC)
    assert WallClock().add_minutes(start, 60) == datetime(2026, 3, 8, 0, 30, tzinfo=UTC)


# No deadline: a property, not a timing; on a shared 2-core machine one example can take > 200 ms.
@settings(deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)),  # noqa: DTZ001
    minutes=st.integers(min_value=0, max_value=5 * 9 * 60 * 3),
)
def test_adding_then_measuring_gives_the_minutes_back(start, minutes):
    end = CAL.add_minutes(start, minutes)
    assert abs(CAL.minutes_between(start, end) - minutes) < 1e-6
