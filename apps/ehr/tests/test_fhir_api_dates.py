"""FHIR date search values read as UTC intervals (no database)."""

from datetime import UTC, datetime

import pytest

from apps.ehr.fhir_api.dates import DateValueError, date_bound_parse


def utc(*parts):
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "prefix", "lower", "upper"),
    [
        ("2025", "eq", utc(2025, 1, 1), utc(2026, 1, 1)),
        ("ge2025-12", "ge", utc(2025, 12, 1), utc(2026, 1, 1)),
        ("lt2024-02-29", "lt", utc(2024, 2, 29), utc(2024, 3, 1)),
        ("2025-01-01T10:00", "eq", utc(2025, 1, 1, 10), utc(2025, 1, 1, 10, 1)),
        ("gt2025-01-01T10:00:00Z", "gt", utc(2025, 1, 1, 10), utc(2025, 1, 1, 10, 0, 1)),
        ("2025-01-01T10:00:00.5+02:00", "eq", utc(2025, 1, 1, 8, 0, 0, 500000), utc(2025, 1, 1, 8, 0, 0, 600000)),
        (
            "le2025-01-01T10:00:00.123456789Z",
            "le",
            utc(2025, 1, 1, 10, 0, 0, 123456),
            utc(2025, 1, 1, 10, 0, 0, 123457),
        ),
    ],
)
def test_values_are_intervals_of_their_precision(text, prefix, lower, upper):
    bound = date_bound_parse(text)
    assert (bound.prefix, bound.lower, bound.upper) == (prefix, lower, upper)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("sa2025", "not supported"),
        ("xx2025", "unknown prefix"),
        ("2025-02-30", "not a valid date"),
        ("2025-01-01T10:00:00+25:00", "out of range"),
        ("2025-01-01 10:00", "not a FHIR date"),
        ("2025-01-01\n", "not a FHIR date"),
        ("٢٠٢٥", "not a FHIR date"),
    ],
)
def test_bad_values_say_what_is_wrong(text, says):
    with pytest.raises(DateValueError, match=says):
        date_bound_parse(text)
