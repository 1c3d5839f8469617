"""Fixtures of the export tests: two sites, their staff, and a little of everything."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from notifications.models import Alert
from tests.factories import (
    AlertFactory,
    AssessmentFactory,
    CmaxResultFactory,
    RegimenChangeFactory,
    ResponseFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
    gad7_answers,
    neuro_answers,
    phq9_answers,
    staff_client,
)


@pytest.fixture
def world(db):
    """Sites a and b, a clinician of each, subjects with responses, Cmax, regimens and alerts."""
    site_a, site_b = SiteFactory(code="a"), SiteFactory(code="b")
    staff_a, staff_b = UserFactory(site=site_a), UserFactory(site=site_b)
    now = timezone.now()
    subjects = {}
    for site in (site_a, site_b):
        subject = SubjectFactory(site=site, study_id=f"{site.code.upper()}-1", year_of_birth=1980)
        subjects[site.code] = subject
        RegimenChangeFactory(subject=subject, effective_from=now - dt.timedelta(days=60))
        ResponseFactory(
            subject=subject,
            answers={**phq9_answers(12, item9=1), "phq9_10": 2},
            completed_at=now - dt.timedelta(days=3),
        )
        ResponseFactory(subject=subject, instrument_code="GAD-7", answers=gad7_answers(8))
        ResponseFactory(subject=subject, instrument_code="NEURO-SX", answers=neuro_answers(5))
        ResponseFactory(
            subject=subject,
            instrument_code="BPNS",
            source="examination",
            answers={
                **neuro_answers(2),
                "vibration_r": 5,
                "vibration_l": 4,
                "reflex_r": "normal",
                "reflex_l": "absent",
            },
        )
        # An invalid PHQ-9 (three items missing) and an incomplete NEURO-SX with symptoms.
        ResponseFactory(subject=subject, answers={"phq9_1": 3, "phq9_2": 3, "phq9_3": 3})
        ResponseFactory(subject=subject, instrument_code="NEURO-SX", answers={"r_pain": 7})
        cmax = CmaxResultFactory(subject=subject, value=Decimal("41.5"), dose_mg=750)
        CmaxResultFactory(subject=subject, value="300", unit="umol/L", dose_mg=None)
        alert = AlertFactory(subject=subject)
        alert.evidence_responses.add(subject.responses.first())
        alert.evidence_cmax_results.add(cmax)
        AlertFactory(
            subject=subject,
            category=Alert.Category.DOSE_REVIEW,
            severity=Alert.Severity.HIGH,
            rules=["R1"],
            status=Alert.Status.RESOLVED,
            resolved_at=now,
            action_taken=Alert.Action.DOSE_REDUCED,
            resolution_note="Reduced to 500 mg.",
        )
        AssessmentFactory(subject=subject, status="missed")
    return {
        "a": site_a,
        "b": site_b,
        "staff_a": staff_a,
        "staff_b": staff_b,
        "subjects": subjects,
        "client_a": staff_client(staff_a),
    }
