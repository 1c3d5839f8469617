"""Occurrence arithmetic of screening schedules: pure, no database.

Entries + treatment start + the subject's time zone -> occurrences with ``opens_at`` and
``closes_at`` in UTC. Occurrence k of an entry falls on day ``offset_days + k * repeat_every_days``
after treatment start (only k = 0 when the entry does not repeat), up to ``until_day`` inclusive,
at ``time_of_day`` *local* time: 09:00 stays 09:00 across a daylight-saving change.

Local times that do not exist (the hour skipped when clocks go forward) are shifted forward by
the length of the gap (02:30 on the spring-forward night in New York -> 03:30 EDT); local times
that happen twice (clocks go back) take the first of the two. Both follow PEP 495 with
``fold=0``.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MAX_DAY = 3660  # ten years: a bound on until_day, so a schedule is always finite


@dataclass(frozen=True)
class EntrySpec:
    """The timing of one schedule entry, as plain values."""

    key: object  # the entry's id, passed through to its occurrences
    instrument_code: str
    offset_days: int
    repeat_every_days: int | None
    until_day: int | None
    time_of_day: time
    window_hours: int


@dataclass(frozen=True)
class Occurrence:
    """One due instrument: the entry key, the occurrence number and its window in UTC."""

    entry_key: object
    occurrence: int
    instrument_code: str
    day: int
    local_date: date
    opens_at: datetime
    closes_at: datetime


def is_valid_timezone(name: object) -> bool:
    """Tell whether name is an IANA time zone this machine knows."""
    if not isinstance(name, str) or not name or len(name) > 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return name in _known_zones() or name == "UTC"


_ZONES: frozenset[str] | None = None


def _known_zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


def local_to_utc(local_date: date, time_of_day: time, tz_name: str) -> datetime:
    """Return the UTC instant of a local time (gaps shift forward, folds take the first)."""
    zone = ZoneInfo(tz_name)
    local = datetime.combine(local_date, time_of_day.replace(tzinfo=None, fold=0), tzinfo=zone)
    return local.astimezone(UTC)


def entry_days(spec: EntrySpec) -> list[int]:
    """Return the days after treatment start on which the entry's occurrences fall."""
    if spec.repeat_every_days is None:
        return [spec.offset_days]
    if spec.repeat_every_days < 1:
        raise ValueError("repeat_every_days must be at least 1")
    if spec.until_day is None:
        raise ValueError("a repeating entry needs until_day")
    last = min(spec.until_day, MAX_DAY)
    return list(range(spec.offset_days, last + 1, spec.repeat_every_days))


def occurrences(
    entries: Iterable[EntrySpec], *, treatment_start: date, tz_name: str
) -> list[Occurrence]:
    """Return every occurrence of the entries for a subject, ordered by opening time."""
    result = []
    for spec in entries:
        for number, day in enumerate(entry_days(spec)):
            local_date = treatment_start + timedelta(days=day)
            opens_at = local_to_utc(local_date, spec.time_of_day, tz_name)
            result.append(
                Occurrence(
                    entry_key=spec.key,
                    occurrence=number,
                    instrument_code=spec.instrument_code,
                    day=day,
                    local_date=local_date,
                    opens_at=opens_at,
                    closes_at=opens_at + timedelta(hours=spec.window_hours),
                )
            )
    result.sort(key=lambda o: (o.opens_at, o.instrument_code, o.occurrence))
    return result


def reminder_times(
    opens_at: datetime, closes_at: datetime, hours: Iterable[int]
) -> list[tuple[int, datetime]]:
    """Return (offset_hours, due_at) for each reminder offset that falls inside the window."""
    result: list[tuple[int, datetime]] = []
    for h in sorted(set(hours)):
        due_at = opens_at + timedelta(hours=h)
        if 0 < h and due_at < closes_at:
            result.append((h, due_at))
    return result
