"""Therapeutic drug monitoring services: Cmax ingestion and versioned monitoring profiles.

Cmax plausibility (api.md "Subjects (staff)", issue 5): a result that cannot be a measured
cycloserine peak is refused rather than stored, since a unit slip (µmol/L entered as µg/mL) or a
typo would otherwise page a clinician or, worse, hide a real level.

- value: > 0 as reported; converted to µg/mL it must not exceed ``MAX_UG_PER_ML`` (500). The
  target is 20–35 µg/mL and reported toxic peaks stay well below 200 µg/mL (clinical-reference §2);
  500 leaves room for any real overdose while refusing values off by a factor of ten or more.
- sampled_at: with a UTC offset; not later than now plus ``CLOCK_SKEW`` (5 min, a lab clock ahead of
  ours); not before the day before the subject's treatment start (a pre-treatment level cannot be
  a cycloserine peak; the day's margin absorbs time zones).
- hours_post_dose: 0 < h <= 24 (a 2 h and a 6 h sample are usual; beyond a day there is no peak).
- dose_mg: 1–3000 mg when given (cycloserine is given at 250–1000 mg/day).

Idempotent ingestion: ``lab_reference`` is unique per subject. The same reference with the same
content returns the stored row; with different content it is a conflict (a correction must be a
new reference, never a silent change of a clinical value).

Monitoring profiles are immutable versions. ``create_profile_version`` copies the current version,
applies the changes, stores version + 1 and asks for the evaluation of every active subject.
``thresholds_for`` maps a profile row to the pure decision table's ``Thresholds``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from config.celery_app import app

from .audit import record_audit
from .cmax import convert_to_ug_per_ml
from .models import CmaxResult, EvaluationRequest, MonitoringProfile, Subject
from .outbox import EVALUATE_TASK, request_evaluation
from .rules import Thresholds

logger = logging.getLogger(__name__)

# --- Cmax results ------------------------------------------------------------------------------

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


# --- Monitoring profiles -----------------------------------------------------------------------

DEFAULT_DRUG = MonitoringProfile._meta.get_field("drug").default
DEFAULT_PROFILE_NAME = MonitoringProfile._meta.get_field("name").default

# Profile fields copied one to one into Thresholds (same names).
THRESHOLD_FIELDS = (
    "phq9_positive",
    "gad7_positive",
    "phq9_severe",
    "d3_score",
    "neuropathy_grade_positive",
    "cmax_ceiling",
    "cmax_ceiling_source",
    "lookback_days",
    "bpns_window_days",
    "cmax_recency_days",
    "pyridoxine_flag_mg",
)
# Fields an admin sets on a new version (everything but identity and bookkeeping).
PROFILE_FIELDS = ("name", *THRESHOLD_FIELDS, "escalation_minutes", "recommended_actions")

# recommended_actions overrides: Thresholds field -> the placeholders its text may use.
ACTION_LISTS = (
    "discontinuation_actions",
    "dose_review_actions",
    "tdm_actions",
    "neuropathy_actions",
)
ACTION_TEMPLATES: dict[str, dict[str, Any]] = {
    "bpns_exam_action": {"days": 28},
    "pyridoxine_flag_action": {"dose_mg": 200, "flag_mg": 200},
    "interaction_action": {"interactions": "ethionamide"},
    "ethionamide_note": {},
    "isoniazid_note": {},
    "alcohol_note": {},
}


def check_recommended_actions(overrides: Any) -> list[str]:
    """Return what is wrong with a ``recommended_actions`` override object (empty when fine)."""
    if not isinstance(overrides, dict):
        return ["Must be an object of action groups."]
    problems = []
    for key, value in overrides.items():
        if key in ACTION_LISTS:
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(text, str) and text.strip() for text in value)
            ):
                problems.append(f"{key}: must be a non-empty list of non-empty texts.")
        elif key in ACTION_TEMPLATES:
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{key}: must be a non-empty text.")
                continue
            try:
                value.format(**ACTION_TEMPLATES[key])
            except (KeyError, IndexError, ValueError, AttributeError):
                allowed = ", ".join("{" + name + "}" for name in ACTION_TEMPLATES[key]) or "none"
                problems.append(f"{key}: may only use the placeholders {allowed}.")
        else:
            allowed_keys = ", ".join((*ACTION_LISTS, *ACTION_TEMPLATES))
            problems.append(f"{key}: unknown action group (known: {allowed_keys}).")
    return problems


def thresholds_for(profile: MonitoringProfile) -> Thresholds:
    """Map a monitoring profile version to the decision table's thresholds and action texts."""
    values: dict[str, Any] = {name: getattr(profile, name) for name in THRESHOLD_FIELDS}
    values["profile"] = f"{profile.name} v{profile.version}"
    values["cmax_ceiling"] = Decimal(profile.cmax_ceiling)
    for key, value in (profile.recommended_actions or {}).items():
        # Overrides were checked on save (check_recommended_actions); skip anything else.
        if key in ACTION_LISTS and isinstance(value, list):
            values[key] = tuple(str(text) for text in value)
        elif key in ACTION_TEMPLATES and isinstance(value, str):
            values[key] = value
    return replace(Thresholds(), **values)


def ensure_default_profile(model=MonitoringProfile) -> None:
    """Create version 1 of the default cycloserine profile when the drug has none (idempotent)."""
    if model.objects.filter(drug=DEFAULT_DRUG).exists():
        return
    try:
        with transaction.atomic():
            model.objects.create(drug=DEFAULT_DRUG, name=DEFAULT_PROFILE_NAME, version=1)
    except IntegrityError:  # created concurrently
        pass


def current_profile(drug: str = DEFAULT_DRUG) -> MonitoringProfile:
    """Return the latest version of a drug's profile, else the default drug's (created if none)."""
    profile = MonitoringProfile.objects.filter(drug=drug).order_by("-version").first()
    if profile is None and drug != DEFAULT_DRUG:
        profile = MonitoringProfile.objects.filter(drug=DEFAULT_DRUG).order_by("-version").first()
    if profile is None:
        ensure_default_profile()
        profile = MonitoringProfile.objects.filter(drug=DEFAULT_DRUG).order_by("-version").first()
    return profile


@dataclass(frozen=True)
class ProfileChange:
    """The outcome of a new profile version: the row and how many subjects await evaluation."""

    profile: MonitoringProfile
    evaluations_requested: int


@transaction.atomic
def create_profile_version(
    *, drug: str = DEFAULT_DRUG, changes: dict[str, Any], created_by=None
) -> ProfileChange:
    """Store the next version of a drug's profile: the current one with ``changes`` applied.

    Side effects: an audit event; an evaluation request for every active subject (bulk outbox
    rows) and one task per subject after commit (the sweep covers a broker outage).
    """
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {', '.join(sorted(unknown))}")
    if "recommended_actions" in changes:
        problems = check_recommended_actions(changes["recommended_actions"])
        if problems:
            raise ValueError("; ".join(problems))
    # Lock the drug's latest version so two concurrent edits cannot both become version n + 1.
    latest = (
        MonitoringProfile.objects.select_for_update().filter(drug=drug).order_by("-version").first()
    )
    if latest is not None:
        values = {name: getattr(latest, name) for name in PROFILE_FIELDS}
        version = latest.version + 1
    else:
        values = {}
        version = 1
    values.update(changes)
    profile = MonitoringProfile.objects.create(
        drug=drug,
        version=version,
        created_by=created_by if getattr(created_by, "pk", None) else None,
        **values,
    )
    record_audit(
        action="create",
        obj=profile,
        actor=created_by,
        changes={
            "drug": drug,
            "version": version,
            "previous_version": latest.version if latest is not None else None,
            **{name: jsonable(getattr(profile, name)) for name in PROFILE_FIELDS},
        },
    )
    count = request_evaluation_of_active_subjects(reason="profile", source_id=str(profile.pk))
    return ProfileChange(profile=profile, evaluations_requested=count)


def jsonable(value: Any) -> Any:
    """Return a JSON-ready form of a profile field value."""
    return str(value) if isinstance(value, Decimal) else value


def request_evaluation_of_active_subjects(*, reason: str, source_id: str = "") -> int:
    """Write one outbox row per active subject and send their tasks after commit; return count."""
    subject_ids = list(
        Subject.objects.filter(status=Subject.Status.ACTIVE).values_list("id", flat=True)
    )
    EvaluationRequest.objects.bulk_create(
        [
            EvaluationRequest(subject_id=subject_id, reason=reason, source_id=source_id)
            for subject_id in subject_ids
        ],
        batch_size=1000,
    )
    ids = [str(subject_id) for subject_id in subject_ids]
    transaction.on_commit(lambda: send_evaluations(ids))
    return len(ids)


def send_evaluations(subject_ids: list[str]) -> int:
    """Send one evaluation task per subject; stop at the first broker failure (the sweep resends).

    Return how many were sent.
    """
    sent = 0
    for subject_id in subject_ids:
        try:
            app.send_task(EVALUATE_TASK, args=[subject_id])
        except Exception as exc:  # broker down: the outbox rows stay pending for the sweep
            logger.warning(
                "evaluations not sent; the sweep will retry",
                extra={"pending": len(subject_ids) - sent, "error": type(exc).__name__},
            )
            break
        sent += 1
    return sent
