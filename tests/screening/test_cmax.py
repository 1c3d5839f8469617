"""Tests for screening/cmax.py: unit conversion, occasions and the current Cmax."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from screening.cmax import (
    CmaxSample,
    convert_to_ug_per_ml,
    group_occasions,
    select_current_cmax,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def make_sample(
    id: str, value: str, sampled_at: datetime, hours_post_dose: str = "2"
) -> CmaxSample:
    """Build a Cmax sample in µg/mL."""
    return CmaxSample(
        id=id,
        value_ug_per_ml=Decimal(value),
        sampled_at=sampled_at,
        hours_post_dose=Decimal(hours_post_dose),
    )


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("35", "ug/mL", Decimal("35.000")),
        ("35.1", "mg/L", Decimal("35.100")),
        ("35.001", "mg/L", Decimal("35.001")),
        ("0", "ug/mL", Decimal("0.000")),
        # 1 µg/mL = 9.795 µmol/L (docs/clinical-reference.md §2): 9.795 × 102.09 / 1000 = 0.99997...
        ("9.795", "umol/L", Decimal("1.000")),
        ("300", "umol/L", Decimal("30.627")),
        ("342.84", "umol/L", Decimal("35.001")),  # 35.00053... rounds to 35.001
        ("342.83", "umol/L", Decimal("35.000")),  # 34.99951... rounds to 35.000, not above
        ("100", "umol/L", Decimal("10.209")),
    ],
)
def test_convert_to_ug_per_ml_known_units(value: str, unit: str, expected: Decimal) -> None:
    result = convert_to_ug_per_ml(Decimal(value), unit)

    assert (result, str(result)) == (expected, str(expected))


@pytest.mark.parametrize("unit", ["mg/dL", "µg/mL", "UMOL/L", "", "ng/mL"])
def test_convert_to_ug_per_ml_unknown_unit_raises(unit: str) -> None:
    with pytest.raises(ValueError, match="unknown concentration unit"):
        convert_to_ug_per_ml(Decimal("30"), unit)


@pytest.mark.parametrize("value", ["-1", "NaN", "Infinity"])
def test_convert_to_ug_per_ml_invalid_value_raises(value: str) -> None:
    with pytest.raises(ValueError, match="finite number"):
        convert_to_ug_per_ml(Decimal(value), "ug/mL")


def test_cmax_sample_naive_time_raises() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_sample("s1", "30", datetime(2025, 3, 1, 12, 0))


def test_group_occasions_6h_higher_than_2h_cmax_is_6h() -> None:
    dose = NOW - timedelta(days=3)
    two_h = make_sample("2h", "28.0", dose + timedelta(hours=2), "2")
    six_h = make_sample("6h", "36.5", dose + timedelta(hours=6), "6")

    occasions = group_occasions([six_h, two_h])

    assert [(o.dose_at, [s.id for s in o.samples], o.cmax_sample.id) for o in occasions] == [
        (dose, ["2h", "6h"], "6h")
    ]


def test_group_occasions_two_doses_are_two_occasions() -> None:
    first_dose = NOW - timedelta(days=10)
    second_dose = NOW - timedelta(days=3)
    samples = [
        make_sample("b-2h", "25", second_dose + timedelta(hours=2), "2"),
        make_sample("a-2h", "40", first_dose + timedelta(hours=2), "2"),
        make_sample("a-6h", "33", first_dose + timedelta(hours=6), "6"),
    ]

    occasions = group_occasions(samples)

    assert [([s.id for s in o.samples], o.cmax_sample.id) for o in occasions] == [
        (["a-2h", "a-6h"], "a-2h"),
        (["b-2h"], "b-2h"),
    ]


@pytest.mark.parametrize(
    ("dose_offset_hours", "expected_groups"),
    [
        (0, [["s1", "s2"]]),
        (2, [["s1", "s2"]]),  # dose times exactly 2 h apart: one occasion (inclusive)
        (Decimal("2.01"), [["s1"], ["s2"]]),
        (12, [["s1"], ["s2"]]),  # twice-daily doses are separate occasions
    ],
)
def test_group_occasions_dose_time_tolerance(
    dose_offset_hours: Decimal | int, expected_groups: list[list[str]]
) -> None:
    dose = NOW - timedelta(days=2)
    s1 = make_sample("s1", "30", dose + timedelta(hours=2), "2")
    later_dose = dose + timedelta(hours=float(dose_offset_hours))
    s2 = make_sample("s2", "31", later_dose + timedelta(hours=6), "6")

    occasions = group_occasions([s1, s2])

    assert [[s.id for s in o.samples] for o in occasions] == expected_groups


def test_group_occasions_sample_gap_over_max_splits() -> None:
    dose = NOW - timedelta(days=5)
    s1 = make_sample("s1", "30", dose + timedelta(hours=2), "2")
    s2 = make_sample("s2", "31", dose + timedelta(hours=27), "27")

    assert [[s.id for s in o.samples] for o in group_occasions([s1, s2])] == [["s1"], ["s2"]]
    assert [[s.id for s in o.samples] for o in group_occasions([s1, s2], max_gap_hours=48)] == [
        ["s1", "s2"]
    ]


def test_group_occasions_empty() -> None:
    assert group_occasions([]) == []


def test_select_current_cmax_6h_sample_higher_wins() -> None:
    dose = NOW - timedelta(days=2)
    samples = [
        make_sample("2h", "30.0", dose + timedelta(hours=2), "2"),
        make_sample("6h", "35.1", dose + timedelta(hours=6), "6"),
    ]

    current = select_current_cmax(samples, now=NOW, recency_days=28, latest_dose_change_at=None)

    assert current == samples[1]


def test_select_current_cmax_latest_occasion_wins_even_if_lower() -> None:
    old_dose = NOW - timedelta(days=14)
    new_dose = NOW - timedelta(days=2)
    high_old = make_sample("old", "45.0", old_dose + timedelta(hours=2))
    low_new = make_sample("new", "22.0", new_dose + timedelta(hours=2))

    current = select_current_cmax(
        [low_new, high_old], now=NOW, recency_days=28, latest_dose_change_at=None
    )

    assert current == low_new


def test_select_current_cmax_none_without_samples() -> None:
    assert select_current_cmax([], now=NOW, recency_days=28, latest_dose_change_at=None) is None


@pytest.mark.parametrize(
    ("age", "expected_id"),
    [
        (timedelta(days=27, hours=23), "s"),
        (timedelta(days=28), "s"),  # exactly 28 days old: still current (inclusive)
        (timedelta(days=28, seconds=1), None),  # one second older: no current Cmax
        (timedelta(days=40), None),
    ],
)
def test_select_current_cmax_recency_window(age: timedelta, expected_id: str | None) -> None:
    sample = make_sample("s", "30", NOW - age, "2")

    current = select_current_cmax([sample], now=NOW, recency_days=28, latest_dose_change_at=None)

    assert (current.id if current else None) == expected_id


def test_select_current_cmax_recency_uses_latest_sample_of_occasion() -> None:
    # 2 h sample 28 d + 1 s old, 6 h sample of the same dose 4 h later: the occasion is current,
    # and its Cmax is the (older) 2 h sample because it is the highest.
    two_h = make_sample("2h", "36", NOW - timedelta(days=28, seconds=1), "2")
    six_h = make_sample("6h", "30", two_h.sampled_at + timedelta(hours=4), "6")

    current = select_current_cmax(
        [two_h, six_h], now=NOW, recency_days=28, latest_dose_change_at=None
    )

    assert current == two_h


@pytest.mark.parametrize(
    ("dose_change_offset", "expected_id"),
    [
        (timedelta(hours=-1), "s"),  # dose change 1 h before the dose: current
        (timedelta(0), "s"),  # dose given at the moment of the change: under the new regimen
        (timedelta(hours=1), None),  # change after the dose, before the 2 h sample: old dose
        (timedelta(hours=3), None),  # change after the sample
    ],
)
def test_select_current_cmax_dose_change(
    dose_change_offset: timedelta, expected_id: str | None
) -> None:
    dose = NOW - timedelta(days=3)
    sample = make_sample("s", "30", dose + timedelta(hours=2), "2")

    current = select_current_cmax(
        [sample], now=NOW, recency_days=28, latest_dose_change_at=dose + dose_change_offset
    )

    assert (current.id if current else None) == expected_id


def test_select_current_cmax_before_dose_change_does_not_fall_back() -> None:
    change = NOW - timedelta(days=5)
    older = make_sample("older", "30", change - timedelta(days=3))
    latest = make_sample("latest", "31", change - timedelta(days=1))

    current = select_current_cmax(
        [older, latest], now=NOW, recency_days=28, latest_dose_change_at=change
    )

    assert current is None


def test_select_current_cmax_ignores_samples_after_now() -> None:
    past = make_sample("past", "30", NOW - timedelta(days=1))
    future = make_sample("future", "50", NOW + timedelta(days=1))

    current = select_current_cmax(
        [past, future], now=NOW, recency_days=28, latest_dose_change_at=None
    )

    assert current == past
