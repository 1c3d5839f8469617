"""The time-to-event table for Cox models: counting-process rows ``(start, stop]`` (pure).

One subject's history (plain values) becomes rows in days since treatment start (the subject's
local midnight of ``treatment_start``). Each row holds the covariates in force during its interval;
a row ends wherever a time-varying covariate changes, and the last row ends at the endpoint's first
event (``event`` = 1) or at the end of follow-up (``event`` = 0).

Endpoints (``ENDPOINTS``): the first valid PHQ-9 with total >= 10, the first valid GAD-7 with
total >= 10, the first neuropathy grade >= 2 (a valid NEURO-SX or BPNS), the first BPNS
examination that is a case, the first discontinuation alert (when it was created), and ``any``,
the first of these. Thresholds are the decision table's defaults (clinical-reference §1, §3);
grade >= 2 is the moderate symptom grade (severity 4-6 or more).

Follow-up ends at the last completed assessment (the latest response's completion time) or at
withdrawal, whichever is earlier; an event after the end of follow-up is not counted. An event at
or before time 0 (before treatment start) is prevalent: the subject has no row for that endpoint.

Time-varying covariates, evaluated in the middle of each interval (they are constant inside it):
- ``cmax_ug_per_ml``: the current Cmax as the decision table defines it (``screening.cmax``:
  highest sample of the latest occasion, within the recency window, dose given after the latest
  dose change), empty when there is none; ``cmax_above_ceiling`` is 1 when it is above the
  ceiling (35 µg/mL by default; exactly 35 is not above), else 0 (also when there is none);
  ``cmax_known`` is 1 when there is a current Cmax;
- ``dose_mg_per_day``, ``pyridoxine_mg_per_day``, ``isoniazid``, ``ethionamide``: the regimen in
  force (the latest change effective before the moment), empty before the first.
Fixed covariates: ``age`` (treatment-start year minus year of birth), ``sex``, ``hiv_positive``,
``renal_impairment`` (empty when unknown).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from screening.cmax import CmaxSample, select_current_cmax

PHQ9_POSITIVE = 10
GAD7_POSITIVE = 10
NEUROPATHY_GRADE_EVENT = 2
DEFAULT_CEILING = Decimal("35")
DEFAULT_RECENCY_DAYS = 28
DAY = timedelta(days=1)
# Days are given to 1e-6 (a tenth of a second): enough to keep every change point apart.
DAY_DIGITS = 6

ENDPOINTS = {
    "phq9": "first valid PHQ-9 with total >= 10",
    "gad7": "first valid GAD-7 with total >= 10",
    "neuropathy": "first neuropathy grade >= 2 (valid NEURO-SX or BPNS)",
    "bpns_case": "first BPNS examination that is a case (Cherry et al. 2005)",
    "discontinuation": "first discontinuation alert (rules D1-D3), at its creation",
    "any": "first of the events above",
}

TABLE_COLUMNS = [
    "subject_id",
    "site",
    "study_id",
    "endpoint",
    "start",
    "stop",
    "event",
    "cmax_ug_per_ml",
    "cmax_known",
    "cmax_above_ceiling",
    "dose_mg_per_day",
    "pyridoxine_mg_per_day",
    "isoniazid",
    "ethionamide",
    "age",
    "sex",
    "hiv_positive",
    "renal_impairment",
]


@dataclass(frozen=True)
class RegimenPoint:
    """A regimen change: what is given from ``effective_from`` on."""

    effective_from: datetime
    drug: str
    dose_mg_per_day: int
    pyridoxine_mg_per_day: int | None
    isoniazid: bool
    ethionamide: bool


@dataclass(frozen=True)
class Outcome:
    """One completed response, reduced to what the endpoints read."""

    completed_at: datetime
    instrument: str
    valid: bool
    total: int | None = None
    grade: int | None = None
    case: bool | None = None


@dataclass(frozen=True)
class SubjectHistory:
    """Everything the table needs about one subject, as plain values."""

    subject_id: str
    site: str
    study_id: str
    origin: datetime
    age: int | None = None
    sex: str = ""
    hiv_positive: bool | None = None
    renal_impairment: bool | None = None
    withdrawn_at: datetime | None = None
    regimen: tuple[RegimenPoint, ...] = ()
    cmax_samples: tuple[CmaxSample, ...] = ()
    responses: tuple[Outcome, ...] = ()
    discontinuation_alerts: tuple[datetime, ...] = field(default_factory=tuple)


def _first(times: Iterable[datetime]) -> datetime | None:
    return min(times, default=None)


def event_times(history: SubjectHistory) -> dict[str, datetime | None]:
    """Return the first time of each endpoint's event (None when it never happened)."""
    responses = history.responses
    times = {
        "phq9": _first(
            r.completed_at
            for r in responses
            if r.instrument == "PHQ-9" and r.valid and (r.total or 0) >= PHQ9_POSITIVE
        ),
        "gad7": _first(
            r.completed_at
            for r in responses
            if r.instrument == "GAD-7" and r.valid and (r.total or 0) >= GAD7_POSITIVE
        ),
        "neuropathy": _first(
            r.completed_at
            for r in responses
            if r.instrument in ("NEURO-SX", "BPNS")
            and r.valid
            and (r.grade or 0) >= NEUROPATHY_GRADE_EVENT
        ),
        "bpns_case": _first(
            r.completed_at for r in responses if r.instrument == "BPNS" and r.case is True
        ),
        "discontinuation": _first(history.discontinuation_alerts),
    }
    times["any"] = _first(t for t in times.values() if t is not None)
    return times


def follow_up_end(history: SubjectHistory) -> datetime | None:
    """Return the end of follow-up: the last completed assessment, or withdrawal if earlier."""
    last = max((r.completed_at for r in history.responses), default=None)
    if history.withdrawn_at is not None and (last is None or history.withdrawn_at < last):
        return history.withdrawn_at
    return last


def _days(history: SubjectHistory, moment: datetime) -> float:
    return round((moment - history.origin) / DAY, DAY_DIGITS)


def _regimen_at(regimen: list[RegimenPoint], moment: datetime) -> RegimenPoint | None:
    current = None
    for point in regimen:
        if point.effective_from <= moment:
            current = point
        else:
            break
    return current


def _latest_dose_change(regimen: list[RegimenPoint], moment: datetime) -> datetime | None:
    latest = None
    known = [point for point in regimen if point.effective_from <= moment]
    for previous, current in zip(known, known[1:], strict=False):
        if (current.drug, current.dose_mg_per_day) != (previous.drug, previous.dose_mg_per_day):
            latest = current.effective_from
    return latest


def counting_process_rows(
    history: SubjectHistory,
    *,
    endpoint: str = "any",
    ceiling: Decimal = DEFAULT_CEILING,
    recency_days: int = DEFAULT_RECENCY_DAYS,
) -> list[dict]:
    """Return the subject's rows for one endpoint (see the module docstring)."""
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; one of {', '.join(ENDPOINTS)}")
    end = follow_up_end(history)
    if end is None or end <= history.origin:
        return []
    event_at = event_times(history)[endpoint]
    if event_at is not None and event_at <= history.origin:
        return []  # prevalent at treatment start
    if event_at is not None and event_at <= end:
        stop, event = event_at, 1
    else:
        stop, event = end, 0

    regimen = sorted(history.regimen, key=lambda p: p.effective_from)
    recency = timedelta(days=recency_days)
    points = {history.origin, stop}
    for point in regimen:
        points.add(point.effective_from)
    for sample in history.cmax_samples:
        points.add(sample.sampled_at)
        points.add(sample.sampled_at + recency)
    cuts = sorted(p for p in points if history.origin <= p <= stop)

    rows = []
    for start_at, stop_at in zip(cuts, cuts[1:], strict=False):
        start_day, stop_day = _days(history, start_at), _days(history, stop_at)
        if stop_day <= start_day:
            continue
        middle = start_at + (stop_at - start_at) / 2
        current = select_current_cmax(
            history.cmax_samples,
            now=middle,
            recency_days=recency_days,
            latest_dose_change_at=_latest_dose_change(regimen, middle),
        )
        given = _regimen_at(regimen, middle)
        rows.append(
            {
                "subject_id": history.subject_id,
                "site": history.site,
                "study_id": history.study_id,
                "endpoint": endpoint,
                "start": start_day,
                "stop": stop_day,
                "event": 0,
                "cmax_ug_per_ml": current.value_ug_per_ml if current else None,
                "cmax_known": int(current is not None),
                "cmax_above_ceiling": int(
                    current is not None and current.value_ug_per_ml > ceiling
                ),
                "dose_mg_per_day": given.dose_mg_per_day if given else None,
                "pyridoxine_mg_per_day": given.pyridoxine_mg_per_day if given else None,
                "isoniazid": None if given is None else int(given.isoniazid),
                "ethionamide": None if given is None else int(given.ethionamide),
                "age": history.age,
                "sex": history.sex,
                "hiv_positive": None if history.hiv_positive is None else int(history.hiv_positive),
                "renal_impairment": None
                if history.renal_impairment is None
                else int(history.renal_impairment),
            }
        )
    if rows:
        rows[-1]["event"] = event
    return merge_rows(rows)


def merge_rows(rows: list[dict]) -> list[dict]:
    """Join consecutive rows whose covariates are equal (a smaller, equivalent table)."""
    merged: list[dict] = []
    keys = [c for c in TABLE_COLUMNS if c not in ("start", "stop", "event")]
    for row in rows:
        if (
            merged
            and merged[-1]["event"] == 0
            and merged[-1]["stop"] == row["start"]
            and all(merged[-1][k] == row[k] for k in keys)
        ):
            merged[-1] = {**merged[-1], "stop": row["stop"], "event": row["event"]}
        else:
            merged.append(dict(row))
    return merged
