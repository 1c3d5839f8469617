"""Tests for screening/tdm.py: the default profile, profile versions and thresholds."""

from dataclasses import replace
from decimal import Decimal

import pytest

from screening.models import AuditEvent, EvaluationRequest, MonitoringProfile
from screening.rules import Thresholds
from screening.services.profiles import (
    ACTION_LISTS,
    ACTION_TEMPLATES,
    check_recommended_actions,
    create_profile_version,
    current_profile,
    ensure_default_profile,
    thresholds_for,
)
from tests.factories import SubjectFactory

pytestmark = pytest.mark.django_db


def test_the_default_cycloserine_profile_ships_with_the_who_2014_ceiling():
    profile = MonitoringProfile.objects.get()

    assert (profile.drug, profile.name, profile.version) == (
        "cycloserine",
        "cycloserine, WHO 2014",
        1,
    )
    assert (profile.cmax_ceiling, profile.cmax_ceiling_source) == (Decimal("35"), "WHO 2014")


def test_ensure_default_profile_is_idempotent():
    ensure_default_profile()
    ensure_default_profile()

    assert MonitoringProfile.objects.count() == 1


def test_thresholds_of_the_default_profile_are_the_decision_tables_defaults():
    assert thresholds_for(current_profile()) == replace(
        Thresholds(), profile="cycloserine, WHO 2014 v1"
    )


def test_thresholds_apply_the_profiles_action_overrides():
    change = create_profile_version(
        changes={
            "cmax_ceiling": Decimal("30"),
            "cmax_ceiling_source": "label",
            "recommended_actions": {
                "tdm_actions": ["Request a 2 h sample."],
                "bpns_exam_action": "Examine within {days} days.",
            },
        }
    )

    thresholds = thresholds_for(change.profile)

    assert thresholds == replace(
        Thresholds(),
        profile="cycloserine, WHO 2014 v2",
        cmax_ceiling=Decimal("30"),
        cmax_ceiling_source="label",
        tdm_actions=("Request a 2 h sample.",),
        bpns_exam_action="Examine within {days} days.",
    )


def test_every_action_group_an_admin_may_override_is_applied_by_thresholds_for():
    overrides = {key: [f"{key} text"] for key in ACTION_LISTS} | {
        key: f"{key} text" for key in ACTION_TEMPLATES
    }
    change = create_profile_version(changes={"recommended_actions": overrides})

    thresholds = thresholds_for(change.profile)

    assert {key: getattr(thresholds, key) for key in overrides} == {
        key: tuple(value) if isinstance(value, list) else value for key, value in overrides.items()
    }


def test_a_new_version_copies_the_current_one_audits_and_requests_evaluation_of_active_subjects():
    active = [SubjectFactory(), SubjectFactory()]
    SubjectFactory(status="withdrawn")
    create_profile_version(changes={"lookback_days": 21})

    change = create_profile_version(changes={"phq9_positive": 9})

    profile = change.profile
    assert (profile.version, profile.lookback_days, profile.phq9_positive) == (3, 21, 9)
    assert MonitoringProfile.objects.get(version=1).phq9_positive == 10  # unchanged
    assert change.evaluations_requested == 2
    assert sorted(
        EvaluationRequest.objects.filter(source_id=str(profile.pk)).values_list(
            "subject_id", "reason"
        )
    ) == sorted((subject.pk, "profile") for subject in active)
    audit = AuditEvent.objects.get(object_id=str(profile.pk))
    assert (audit.action, audit.changes["version"], audit.changes["previous_version"]) == (
        "create",
        3,
        2,
    )


@pytest.mark.parametrize(
    ("overrides", "problems"),
    [
        ({}, []),
        ({"tdm_actions": ["Sample at 2 h."]}, []),
        ({"interaction_action": "Mind {interactions}."}, []),
        ([], ["Must be an object of action groups."]),
        ({"tdm_actions": []}, ["tdm_actions: must be a non-empty list of non-empty texts."]),
        ({"tdm_actions": "one"}, ["tdm_actions: must be a non-empty list of non-empty texts."]),
        (
            {"bpns_exam_action": "In {weeks} weeks"},
            ["bpns_exam_action: may only use the placeholders {days}."],
        ),
        ({"alcohol_note": "{0}"}, ["alcohol_note: may only use the placeholders none."]),
        (
            {"colour": ["red"]},
            [
                "colour: unknown action group (known: discontinuation_actions, "
                "dose_review_actions, tdm_actions, neuropathy_actions, "
                "item9_unanswered_actions, clinical_review_actions, below_floor_actions, "
                "weekly_tdm_actions, bpns_exam_action, pyridoxine_flag_action, "
                "interaction_action, pyridoxine_low_action, evidence_withdrawn_action, "
                "ethionamide_note, isoniazid_note, alcohol_note)."
            ],
        ),
    ],
)
def test_check_recommended_actions(overrides, problems):
    assert check_recommended_actions(overrides) == problems
