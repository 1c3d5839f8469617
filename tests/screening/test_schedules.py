"""The pure occurrence arithmetic: local times, daylight saving, UTC+13, repeats and bounds."""

from datetime import UTC, date, datetime, time

import pytest

from screening.occurrences import (
    EntrySpec,
    entry_days,
    is_valid_timezone,
    local_to_utc,
    occurrences,
    reminder_times,
)


def spec(**overrides) -> EntrySpec:
    values = {
        "key": "e1",
        "instrument_code": "PHQ-9",
        "offset_days": 0,
        "repeat_every_days": 14,
        "until_day": 28,
        "time_of_day": time(9, 0),
        "window_hours": 72,
    }
    return EntrySpec(**{**values, **overrides})


def test_entry_days_repeat_until_day_inclusive():
    assert entry_days(spec(offset_days=0, repeat_every_days=14, until_day=28)) == [0, 14, 28]


def test_entry_days_until_day_between_occurrences():
    assert entry_days(spec(offset_days=7, repeat_every_days=14, until_day=34)) == [7, 21]


def test_entry_days_without_repeat_is_one_occurrence():
    assert entry_days(spec(offset_days=3, repeat_every_days=None, until_day=None)) == [3]


def test_entry_days_repeat_without_until_day_is_refused():
    with pytest.raises(ValueError):
        entry_days(spec(until_day=None))


def test_occurrences_johannesburg_at_nine_local():
    result = occurrences([spec()], treatment_start=date(2025, 3, 3), tz_name="Africa/Johannesburg")

    assert [(o.occurrence, o.opens_at, o.closes_at) for o in result] == [
        (0, datetime(2025, 3, 3, 7, 0, tzinfo=UTC), datetime(2025, 3, 6, 7, 0, tzinfo=UTC)),
        (1, datetime(2025, 3, 17, 7, 0, tzinfo=UTC), datetime(2025, 3, 20, 7, 0, tzinfo=UTC)),
        (2, datetime(2025, 3, 31, 7, 0, tzinfo=UTC), datetime(2025, 4, 3, 7, 0, tzinfo=UTC)),
    ]


def test_occurrences_new_york_keep_nine_local_across_spring_forward():
    # DST starts 2025-03-09 in New York: 09:00 EST = 14:00 UTC before, 09:00 EDT = 13:00 after.
    result = occurrences(
        [spec(repeat_every_days=7, until_day=14)],
        treatment_start=date(2025, 3, 2),
        tz_name="America/New_York",
    )

    assert [o.opens_at for o in result] == [
        datetime(2025, 3, 2, 14, 0, tzinfo=UTC),
        datetime(2025, 3, 9, 13, 0, tzinfo=UTC),
        datetime(2025, 3, 16, 13, 0, tzinfo=UTC),
    ]


def test_occurrences_new_york_keep_nine_local_across_fall_back():
    result = occurrences(
        [spec(repeat_every_days=7, until_day=7)],
        treatment_start=date(2025, 10, 29),
        tz_name="America/New_York",
    )

    assert [o.opens_at for o in result] == [
        datetime(2025, 10, 29, 13, 0, tzinfo=UTC),
        datetime(2025, 11, 5, 14, 0, tzinfo=UTC),
    ]


def test_occurrences_utc_plus_thirteen_fall_on_the_previous_utc_day():
    # Tonga is UTC+13 all year: 09:00 local on 2025-06-10 is 20:00 UTC on 2025-06-09.
    result = occurrences(
        [spec(repeat_every_days=None, until_day=None)],
        treatment_start=date(2025, 6, 10),
        tz_name="Pacific/Tongatapu",
    )

    assert [(o.local_date, o.opens_at) for o in result] == [
        (date(2025, 6, 10), datetime(2025, 6, 9, 20, 0, tzinfo=UTC))
    ]


def test_local_time_in_a_dst_gap_shifts_forward():
    # 02:30 does not exist on 2025-03-09 in New York; it becomes 03:30 EDT = 07:30 UTC.
    assert local_to_utc(date(2025, 3, 9), time(2, 30), "America/New_York") == datetime(
        2025, 3, 9, 7, 30, tzinfo=UTC
    )


def test_local_time_in_a_dst_fold_takes_the_first():
    # 01:30 happens twice on 2025-11-02 in New York; the first is EDT = 05:30 UTC.
    assert local_to_utc(date(2025, 11, 2), time(1, 30), "America/New_York") == datetime(
        2025, 11, 2, 5, 30, tzinfo=UTC
    )


def test_occurrences_sorted_across_entries():
    result = occurrences(
        [
            spec(key="a", instrument_code="GAD-7", offset_days=1, repeat_every_days=None),
            spec(key="b", instrument_code="PHQ-9", offset_days=0, repeat_every_days=None),
        ],
        treatment_start=date(2025, 1, 1),
        tz_name="UTC",
    )

    assert [(o.entry_key, o.day) for o in result] == [("b", 0), ("a", 1)]


def test_reminder_times_inside_the_window_only():
    opens = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
    closes = datetime(2025, 1, 4, 9, 0, tzinfo=UTC)

    assert reminder_times(opens, closes, [48, 24, 72, 100]) == [
        (24, datetime(2025, 1, 2, 9, 0, tzinfo=UTC)),
        (48, datetime(2025, 1, 3, 9, 0, tzinfo=UTC)),
    ]


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("Africa/Johannesburg", True),
        ("America/New_York", True),
        ("Pacific/Tongatapu", True),
        ("UTC", True),
        ("Mars/Olympus", False),
        ("../../etc/passwd", False),
        ("", False),
        (None, False),
        (12, False),
        ("x" * 100, False),
    ],
)
def test_is_valid_timezone(name, valid):
    assert is_valid_timezone(name) == valid
