"""Cmax results: plausibility checks and idempotent ingestion of measured peak concentrations.

Cmax plausibility (docs/api.md "Subjects (staff)", issue 5): a result that cannot be a measured
cycloserine peak is refused rather than stored, since a unit slip (µmol/L entered as µg/mL) or a
typo would otherwise page a clinician or, worse, hide a real level.

- value: > 0 as reported; converted to µg/mL it must not exceed ``MAX_UG_PER_ML`` (500). The
  target is 20–35 µg/mL and reported toxic peaks stay well below 200 µg/mL
  (docs/clinical-reference.md §2);
  500 leaves room for any real overdose while refusing values off by a factor of ten or more.
- sampled_at: with a UTC offset; not later than now plus ``CLOCK_SKEW`` (5 min, a lab clock ahead of
  ours); not before the day before the subject's treatment start (a pre-treatment level cannot be
  a cycloserine peak; the day's margin absorbs time zones).
- hours_post_dose: 0 < h <= 24 (a 2 h and a 6 h sample are usual; beyond a day there is no peak).
- dose_mg: 1–3000 mg when given (cycloserine is given at 250–1000 mg/day).

Idempotent ingestion: ``lab_reference`` is unique per subject. The same reference with the same
content returns the stored row; with different content it is a conflict (a correction must be a
new reference, never a silent change of a clinical value).
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from screening.audit import record_audit
from screening.cmax import convert_to_ug_per_ml
from screening.models import CmaxResult, Subject
from screening.services.outbox import request_evaluation

logger = logging.getLogger(__name__)


MAX_UG_PER_ML = Decimal("500")


CLOCK_SKEW = timedelta(minutes=5)


MAX_HOURS_POST_DOSE = Decimal("24")


MIN_DOSE_MG = 1


MAX_DOSE_MG = 3000


# Content compared when the same lab reference arrives again.
CMAX_CONTENT_FIELDS = ("value", "unit", "sampled_at", "hours_post_dose", "dose_mg")


class CmaxConflict(Exception):
    """The lab reference is already stored for this subject with different content."""

    def __init__(self, existing: CmaxResult, differences: list[str]):
        self.existing = existing
        self.differences = differences
        super().__init__(f"lab reference stored with different {', '.join(differences)}")


class ImplausibleCmax(ValueError):
    """The result cannot be a measured cycloserine peak; ``fields`` says why, per field."""

    def __init__(self, fields: dict[str, list[str]]):
        self.fields = fields
        super().__init__("implausible Cmax result")


def check_cmax_plausibility(
    *,
    subject: Subject,
    value: Decimal,
    unit: str,
    sampled_at: datetime,
    hours_post_dose: Decimal,
    dose_mg: int | None,
    now: datetime | None = None,
) -> dict[str, list[str]]:
    """Return the reasons, per field, why a Cmax result is implausible (empty when plausible)."""
    now = now or timezone.now()
    problems: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    if not value.is_finite() or value <= 0:
        add("value", "Must be greater than 0.")
    else:
        try:
            converted = convert_to_ug_per_ml(value, unit)
        except ValueError:
            add("unit", "Must be one of ug/mL, mg/L, umol/L.")
        else:
            if converted > MAX_UG_PER_ML:
                add(
                    "value",
                    f"{converted} µg/mL is above {MAX_UG_PER_ML} µg/mL, the plausible maximum: "
                    "check the value and its unit.",
                )
    if sampled_at.tzinfo is None or sampled_at.utcoffset() is None:
        add("sampled_at", "Must include a UTC offset.")
    else:
        if sampled_at > now + CLOCK_SKEW:
            add("sampled_at", "Must not be in the future.")
        earliest = earliest_sample_time(subject)
        if sampled_at < earliest:
            add(
                "sampled_at",
                f"Must not be before {earliest.isoformat()}, the day before treatment start.",
            )
    if not hours_post_dose.is_finite() or not (0 < hours_post_dose <= MAX_HOURS_POST_DOSE):
        add("hours_post_dose", f"Must be more than 0 and at most {MAX_HOURS_POST_DOSE}.")
    if dose_mg is not None and not (MIN_DOSE_MG <= dose_mg <= MAX_DOSE_MG):
        add("dose_mg", f"Must be between {MIN_DOSE_MG} and {MAX_DOSE_MG} mg.")
    return problems


def earliest_sample_time(subject: Subject) -> datetime:
    """Return the earliest plausible sample time: midnight, subject-local, the day before start."""
    try:
        zone = ZoneInfo(subject.timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    day = subject.treatment_start - timedelta(days=1)
    return datetime.combine(day, time.min, tzinfo=zone)


def same_cmax_content(existing: CmaxResult, data: dict[str, Any]) -> list[str]:
    """Return the content fields whose stored value differs from ``data``."""
    differences = []
    for name in CMAX_CONTENT_FIELDS:
        stored, given = getattr(existing, name), data.get(name)
        if isinstance(stored, Decimal) and given is not None:
            if Decimal(stored) != Decimal(given):
                differences.append(name)
        elif stored != given:
            differences.append(name)
    return differences


@transaction.atomic
def record_cmax_result(
    *,
    subject: Subject,
    value: Decimal,
    unit: str,
    sampled_at: datetime,
    hours_post_dose: Decimal,
    lab_reference: str,
    dose_mg: int | None = None,
    entered_by=None,
    now: datetime | None = None,
) -> tuple[CmaxResult, bool]:
    """Store a Cmax result once per lab reference; return it and whether it was created.

    Side effects on creation: an audit event and an evaluation request (outbox row, task after
    commit). Raises ``ImplausibleCmax`` or ``CmaxConflict``.
    """
    problems = check_cmax_plausibility(
        subject=subject,
        value=value,
        unit=unit,
        sampled_at=sampled_at,
        hours_post_dose=hours_post_dose,
        dose_mg=dose_mg,
        now=now,
    )
    if problems:
        raise ImplausibleCmax(problems)
    data = {
        "value": value,
        "unit": unit,
        "sampled_at": sampled_at,
        "hours_post_dose": hours_post_dose,
        "dose_mg": dose_mg,
    }
    existing = CmaxResult.objects.filter(subject=subject, lab_reference=lab_reference).first()
    if existing is None:
        try:
            with transaction.atomic():  # a savepoint: a concurrent duplicate loses here, not 500
                result = CmaxResult.objects.create(
                    subject=subject,
                    lab_reference=lab_reference,
                    value_ug_per_ml=convert_to_ug_per_ml(value, unit),
                    entered_by=entered_by if getattr(entered_by, "pk", None) else None,
                    **data,
                )
        except IntegrityError:
            existing = CmaxResult.objects.get(subject=subject, lab_reference=lab_reference)
        else:
            record_audit(
                action="create",
                obj=result,
                actor=entered_by,
                subject=subject,
                changes={
                    "value": str(value),
                    "unit": unit,
                    "value_ug_per_ml": str(result.value_ug_per_ml),
                    "sampled_at": sampled_at.isoformat(),
                    "hours_post_dose": str(hours_post_dose),
                    "dose_mg": dose_mg,
                    "lab_reference": lab_reference,
                },
            )
            request_evaluation(subject=subject, reason="cmax", source_id=str(result.pk))
            return result, True
    differences = same_cmax_content(existing, data)
    if differences:
        raise CmaxConflict(existing, differences)
    return existing, False
