"""Cycloserine Cmax: unit conversion, monitoring occasions and the current Cmax (pure, no Django).

Facts from docs/clinical-reference.md §2 (TDM) and §3 (inputs of the decision table).

Occasions. A monitoring occasion is one dose with its samples (2 h, and 6 h if taken). A sample's
dose time is ``sampled_at - hours_post_dose``. Samples are grouped in order of dose time: a sample
joins the current occasion when its dose time is within ``dose_tolerance_hours`` (default 2 h) of
the occasion's first (earliest) dose time and its sample time is within ``max_gap_hours`` (default
24 h) of the occasion's first sample time; otherwise it starts a new occasion. Comparing with the
first dose time (not the previous sample's) stops a chain of samples drifting across doses; a 2 h
tolerance keeps the doses of a twice-daily regimen (12 h apart) apart while absorbing the rounding
of a recorded dose time.

Current Cmax (docs/clinical-reference.md §3). The latest occasion is the one holding the latest
sample time (samples after ``now`` are ignored, so an evaluation "as of" a past time sees only what
was known). Its Cmax (highest sample) is current only if:
- recency: the occasion's latest sample time is at most ``recency_days`` before ``now``
  (inclusive: exactly 28 days old is current, 28 days + 1 s is not) -- the age of a measurement is
  the age of its newest sample;
- dose change: the occasion's dose time is at or after ``latest_dose_change_at`` -- the level must
  come from a dose given under the current regimen, so a sample taken after the change of a dose
  given before it does not count (this is stricter than "sampled after the change" and implies it).
Otherwise there is no current Cmax: an older occasion is never used instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

# Molar mass of cycloserine, g/mol (docs/clinical-reference.md §2: 1 µg/mL = 9.795 µmol/L).
CYCLOSERINE_MOLAR_MASS = Decimal("102.09")
# µg/mL and mg/L are the same number (docs/clinical-reference.md §2; docs/api.md "Cmax results").
UG_PER_ML_UNITS = frozenset({"ug/mL", "mg/L"})
UMOL_PER_L_UNIT = "umol/L"
# Three decimals are far below any lab's precision and keep 35.001 distinct from 35.0.
CONCENTRATION_QUANTUM = Decimal("0.001")

DEFAULT_DOSE_TOLERANCE_HOURS = Decimal("2")
DEFAULT_MAX_GAP_HOURS = Decimal("24")


def convert_to_ug_per_ml(value: Decimal, unit: str) -> Decimal:
    """Convert a cycloserine concentration to µg/mL, rounded half up to 0.001."""
    if not isinstance(value, Decimal):
        raise TypeError(f"value must be a Decimal, not {type(value).__name__}")
    if not value.is_finite() or value < 0:
        raise ValueError(f"concentration must be a finite number >= 0, not {value}")
    if unit in UG_PER_ML_UNITS:
        converted = value
    elif unit == UMOL_PER_L_UNIT:
        # µg/mL = µmol/L × 102.09 g/mol / 1000 (docs/clinical-reference.md §2)
        converted = value * CYCLOSERINE_MOLAR_MASS / Decimal(1000)
    else:
        raise ValueError(f"unknown concentration unit {unit!r}; expected ug/mL, mg/L or umol/L")
    return converted.quantize(CONCENTRATION_QUANTUM, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class CmaxSample:
    """One measured concentration, in µg/mL, with its aware sample time and hours after the dose."""

    id: str
    value_ug_per_ml: Decimal
    sampled_at: datetime
    hours_post_dose: Decimal

    def __post_init__(self) -> None:
        if self.sampled_at.tzinfo is None or self.sampled_at.utcoffset() is None:
            raise ValueError(f"sampled_at of Cmax sample {self.id} must be timezone-aware")
        if not isinstance(self.value_ug_per_ml, Decimal):
            raise TypeError(f"value_ug_per_ml of Cmax sample {self.id} must be a Decimal")
        if not isinstance(self.hours_post_dose, Decimal) or self.hours_post_dose < 0:
            raise ValueError(f"hours_post_dose of Cmax sample {self.id} must be a Decimal >= 0")

    @property
    def dose_at(self) -> datetime:
        """Return the time of the dose this sample follows."""
        return self.sampled_at - hours_to_timedelta(self.hours_post_dose)


@dataclass(frozen=True)
class Occasion:
    """One monitoring occasion: a dose, its samples (by sample time) and its highest sample."""

    dose_at: datetime
    samples: tuple[CmaxSample, ...]
    cmax_sample: CmaxSample

    @property
    def last_sampled_at(self) -> datetime:
        """Return the time of the occasion's newest sample."""
        return max(sample.sampled_at for sample in self.samples)


def hours_to_timedelta(hours: Decimal) -> timedelta:
    """Convert a Decimal number of hours to a timedelta, to the microsecond."""
    return timedelta(microseconds=int((hours * 3_600_000_000).to_integral_value(ROUND_HALF_UP)))


def pick_highest(samples: Iterable[CmaxSample]) -> CmaxSample:
    """Return the highest sample; on a tie the earliest sample, then the smallest id."""
    return min(samples, key=lambda s: (-s.value_ug_per_ml, s.sampled_at, s.id))


def group_occasions(
    samples: Iterable[CmaxSample],
    *,
    max_gap_hours: Decimal | int = DEFAULT_MAX_GAP_HOURS,
    dose_tolerance_hours: Decimal | int = DEFAULT_DOSE_TOLERANCE_HOURS,
) -> list[Occasion]:
    """Group samples into monitoring occasions, oldest dose first (see the module docstring)."""
    max_gap = hours_to_timedelta(Decimal(max_gap_hours))
    tolerance = hours_to_timedelta(Decimal(dose_tolerance_hours))
    ordered = sorted(samples, key=lambda s: (s.dose_at, s.sampled_at, s.id))
    groups: list[list[CmaxSample]] = []
    for sample in ordered:
        if groups:
            first = groups[-1][0]
            first_sampled_at = min(s.sampled_at for s in groups[-1])
            if (
                sample.dose_at - first.dose_at <= tolerance
                and abs(sample.sampled_at - first_sampled_at) <= max_gap
            ):
                groups[-1].append(sample)
                continue
        groups.append([sample])
    return [
        Occasion(
            dose_at=group[0].dose_at,
            samples=tuple(sorted(group, key=lambda s: (s.sampled_at, s.id))),
            cmax_sample=pick_highest(group),
        )
        for group in groups
    ]


def select_current_cmax(
    samples: Iterable[CmaxSample],
    *,
    now: datetime,
    recency_days: int,
    latest_dose_change_at: datetime | None,
) -> CmaxSample | None:
    """Return the highest sample of the latest occasion if it is current, else None."""
    known = [sample for sample in samples if sample.sampled_at <= now]
    occasions = group_occasions(known)
    if not occasions:
        return None
    latest = max(occasions, key=lambda o: (o.last_sampled_at, o.dose_at))
    # Recency window, inclusive at its edge (docs/clinical-reference.md §3, default 28 days).
    if now - latest.last_sampled_at > timedelta(days=recency_days):
        return None
    # After the latest dose change: the dose itself was given under the current regimen.
    if latest_dose_change_at is not None and latest.dose_at < latest_dose_change_at:
        return None
    return latest.cmax_sample
