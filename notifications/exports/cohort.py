"""A synthetic cohort with a known hazard ratio, for the worked Cox example (pure).

SYNTHETIC DATA: no real person is described. Each subject starts cycloserine on a given day,
answers PHQ-9 every ``assessment_every_days`` at 09:00 UTC and has a 2 h Cmax sample on day 7 and
then every 14 days (so a current Cmax always exists from day 7 on). A fraction of subjects are
"exposed": their Cmax is above the ceiling (38-55 µg/mL); the others stay within 15-33 µg/mL.

The event is the first PHQ-9 with total >= 10, entered at the moment it happens (an interview
form), observed up to the subject's last scheduled assessment (where follow-up ends). Its hazard
is ``baseline_hazard_per_day`` while there is no current Cmax above the ceiling and
``baseline_hazard_per_day * hazard_ratio`` from an exposed subject's first sample on: the hazard
ratio of ``cmax_above_ceiling`` built into the data. Subjects drop out (withdraw) at a
constant rate independent of exposure; follow-up ends at the last completed assessment.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

DAY = timedelta(days=1)
ASSESSMENT_TIME = time(9, 0)
FIRST_SAMPLE_DAY = 7
SAMPLE_EVERY_DAYS = 14
NEGATIVE_TOTAL = 3
EVENT_TOTAL = 14


@dataclass(frozen=True)
class CohortSettings:
    subjects: int = 300
    seed: int = 20240601
    hazard_ratio: float = 2.0
    baseline_hazard_per_day: float = 1 / 200
    dropout_per_day: float = 1 / 1000
    follow_up_days: int = 168
    assessment_every_days: int = 14
    exposed_fraction: float = 0.4
    ceiling: Decimal = Decimal("35")
    first_start: date = date(2025, 1, 6)
    enrolment_days: int = 90


@dataclass(frozen=True)
class SyntheticSubject:
    study_id: str
    treatment_start: date
    sex: str
    year_of_birth: int
    hiv_positive: bool
    renal_impairment: bool
    exposed: bool
    dose_mg_per_day: int
    pyridoxine_mg_per_day: int
    isoniazid: bool
    ethionamide: bool
    # (sampled_at, hours_post_dose, µg/mL, lab reference)
    cmax: list[tuple[datetime, Decimal, Decimal, str]] = field(default_factory=list)
    # (completed_at, PHQ-9 answers)
    phq9: list[tuple[datetime, dict[str, int]]] = field(default_factory=list)
    withdrawn_at: datetime | None = None
    event_at: datetime | None = None


def phq9_answers(total: int) -> dict[str, int]:
    """Return PHQ-9 answers summing to ``total`` over items 1-8 (item 9 answered 0)."""
    if not 0 <= total <= 24:
        raise ValueError("total must be 0-24 with item 9 at 0")
    answers = {}
    left = total
    for n in range(1, 9):
        value = min(3, left)
        answers[f"phq9_{n}"] = value
        left -= value
    answers["phq9_9"] = 0
    return answers


def origin(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def generate_cohort(settings: CohortSettings | None = None) -> list[SyntheticSubject]:
    """Return the synthetic subjects (deterministic for a given seed)."""
    settings = settings or CohortSettings()
    rng = random.Random(settings.seed)
    subjects = []
    for n in range(1, settings.subjects + 1):
        start = settings.first_start + timedelta(days=rng.randrange(settings.enrolment_days))
        zero = origin(start)
        exposed = rng.random() < settings.exposed_fraction
        first_sample = FIRST_SAMPLE_DAY + 9 / 24  # 09:00 on day 7
        # Piecewise-exponential event time: baseline hazard, times the ratio once exposed.
        event_day = rng.expovariate(settings.baseline_hazard_per_day)
        if exposed and event_day > first_sample:
            event_day = first_sample + rng.expovariate(
                settings.baseline_hazard_per_day * settings.hazard_ratio
            )
        dropout_day = rng.expovariate(settings.dropout_per_day)
        end_day = min(settings.follow_up_days, dropout_day)
        subject = SyntheticSubject(
            study_id=f"SYN-{n:04d}",
            treatment_start=start,
            sex=rng.choice(["female", "male"]),
            year_of_birth=start.year - rng.randint(18, 70),
            hiv_positive=rng.random() < 0.3,
            renal_impairment=rng.random() < 0.1,
            exposed=exposed,
            dose_mg_per_day=rng.choice([500, 750]),
            pyridoxine_mg_per_day=rng.choice([100, 150, 200]),
            isoniazid=rng.random() < 0.3,
            ethionamide=rng.random() < 0.4,
            withdrawn_at=zero + dropout_day * DAY
            if dropout_day < settings.follow_up_days
            else None,
        )
        day = float(FIRST_SAMPLE_DAY)
        k = 0
        while day < end_day:
            low, high = (38, 55) if exposed else (15, 33)
            value = Decimal(rng.randint(low * 10, high * 10)) / 10
            sampled_at = origin(start + timedelta(days=int(day))) + timedelta(hours=11)
            subject.cmax.append((sampled_at, Decimal("2"), value, f"{subject.study_id}-L{k}"))
            day += SAMPLE_EVERY_DAYS
            k += 1
        # Scheduled assessments before the end (follow-up ends at the last one): an event is
        # observed only up to then, so censored and event subjects share the same window.
        times = []
        for k in range(0, settings.follow_up_days // settings.assessment_every_days + 1):
            at = datetime.combine(
                start + timedelta(days=k * settings.assessment_every_days),
                ASSESSMENT_TIME,
                tzinfo=UTC,
            )
            if (at - zero) / DAY >= end_day:
                break
            times.append(at)
        last_day = (times[-1] - zero) / DAY if times else 0.0
        for at in times:
            if (at - zero) / DAY < event_day:
                subject.phq9.append((at, phq9_answers(NEGATIVE_TOTAL)))
        if event_day <= last_day:
            event_at = zero + event_day * DAY
            subject.phq9.append((event_at, phq9_answers(EVENT_TOTAL)))
            subject = _with_event(subject, event_at)
        subject.phq9.sort(key=lambda pair: pair[0])
        subjects.append(subject)
    return subjects


def _with_event(subject: SyntheticSubject, event_at: datetime) -> SyntheticSubject:
    from dataclasses import replace

    return replace(subject, event_at=event_at)


def history_of(subject: SyntheticSubject, *, site: str = "synthetic"):
    """Return the subject as the time-to-event table's plain history (no database)."""
    from screening.cmax import CmaxSample

    from .survival import Outcome, RegimenPoint, SubjectHistory

    zero = origin(subject.treatment_start)
    return SubjectHistory(
        subject_id=subject.study_id,
        site=site,
        study_id=subject.study_id,
        origin=zero,
        age=subject.treatment_start.year - subject.year_of_birth,
        sex=subject.sex,
        hiv_positive=subject.hiv_positive,
        renal_impairment=subject.renal_impairment,
        withdrawn_at=subject.withdrawn_at,
        regimen=(
            RegimenPoint(
                effective_from=zero,
                drug="cycloserine",
                dose_mg_per_day=subject.dose_mg_per_day,
                pyridoxine_mg_per_day=subject.pyridoxine_mg_per_day,
                isoniazid=subject.isoniazid,
                ethionamide=subject.ethionamide,
            ),
        ),
        cmax_samples=tuple(
            CmaxSample(id=ref, value_ug_per_ml=value, sampled_at=at, hours_post_dose=hours)
            for at, hours, value, ref in subject.cmax
        ),
        responses=tuple(
            Outcome(completed_at=at, instrument="PHQ-9", valid=True, total=sum(answers.values()))
            for at, answers in subject.phq9
        ),
    )
