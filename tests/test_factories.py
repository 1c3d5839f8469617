"""The shared factories build rows the way the product does (tests/factories.py)."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from screening.models import SiteMembership
from tests.factories import (
    AlertFactory,
    AssessmentFactory,
    CmaxResultFactory,
    MonitoringProfileFactory,
    ResponseFactory,
    SubjectFactory,
    UserFactory,
    gad7_answers,
    phq9_answers,
)

pytestmark = pytest.mark.django_db


def test_phq9_answers_reach_the_total_with_the_given_item9():
    assert phq9_answers(12, item9=1) == {
        "phq9_1": 3,
        "phq9_2": 3,
        "phq9_3": 3,
        "phq9_4": 2,
        "phq9_5": 0,
        "phq9_6": 0,
        "phq9_7": 0,
        "phq9_8": 0,
        "phq9_9": 1,
    }
    with pytest.raises(AssertionError):
        gad7_answers(22)


def test_a_response_is_scored_by_its_instruments_current_definition():
    response = ResponseFactory(instrument_code="GAD-7", answers=gad7_answers(11))

    assert (response.instrument_version.code, response.valid, response.score) == (
        "GAD-7",
        True,
        {
            "total": 11,
            "band": "moderate",
            "flags": [],
            "prorated": False,
            "valid": True,
            "grade": None,
            "case": None,
            "invalid_reason": None,
        },
    )


def test_a_response_to_an_assessment_is_of_its_instrument():
    assessment = AssessmentFactory(instrument="NEURO-SX")

    response = ResponseFactory(subject=assessment.subject, assessment=assessment)

    assert (assessment.schedule_entry.instrument_code, response.instrument_code) == (
        "NEURO-SX",
        "NEURO-SX",
    )
    assert assessment.schedule_entry.schedule.site == assessment.subject.site


def test_a_user_given_a_site_is_a_member_and_has_a_public_id():
    subject = SubjectFactory()

    user = UserFactory(site=subject.site, site__role="coordinator", site__escalation_tier=2)

    assert list(
        SiteMembership.objects.filter(user=user).values_list("site", "role", "escalation_tier")
    ) == [(subject.site.pk, "coordinator", 2)]
    assert user.staff_profile.public_id is not None
    assert user.check_password("staff-pass-123")


def test_a_subject_with_regimen_starts_it_at_local_midnight_of_the_treatment_start():
    subject = SubjectFactory(with_regimen=True, treatment_start=dt.date(2025, 3, 3))

    regimen = subject.regimen_changes.get()

    assert (regimen.effective_from, regimen.dose_mg_per_day, regimen.pyridoxine_mg_per_day) == (
        dt.datetime(2025, 3, 3, tzinfo=ZoneInfo("Africa/Johannesburg")),
        750,
        150,
    )


def test_a_cmax_result_is_stored_in_ug_per_ml():
    result = CmaxResultFactory(value="343", unit="umol/L")

    result.refresh_from_db()
    assert (result.value, result.value_ug_per_ml) == (Decimal("343.000"), Decimal("35.017"))


def test_alerts_use_the_current_profile_and_a_new_profile_is_the_next_version():
    first = AlertFactory()
    profile = MonitoringProfileFactory(escalation_minutes=45)
    second = AlertFactory()

    assert (first.profile.version, profile.version, second.profile) == (1, 2, profile)
