"""Monitoring profiles: immutable versions of the thresholds and actions of the decision table.

``create_profile_version`` copies the current version, applies the changes, stores version + 1
and asks for the evaluation of every active subject.
``thresholds_for`` maps a profile row to the pure decision table's ``Thresholds``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, cast

from django.db import IntegrityError, transaction

from screening.audit import record_audit
from screening.models import MonitoringProfile
from screening.rules import Thresholds
from screening.services.outbox import request_evaluation_of_active_subjects

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
PROFILE_FIELDS = (
    "name",
    *THRESHOLD_FIELDS,
    "escalation_minutes",
    "high_escalation_minutes",
    "recommended_actions",
)


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
    return cast(MonitoringProfile, profile)  # ensure_default_profile() made one


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
