"""Issue 10 through the evaluation: the peak window, W1 once per overdue period, B1 alerts."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from notifications.alerts import resolve_alert
from notifications.evaluation import evaluate_subject
from notifications.models import Alert
from tests.factories import (
    CmaxResultFactory,
    RegimenChangeFactory,
    ResponseFactory,
    SubjectFactory,
    UserFactory,
    phq9_answers,
)

pytestmark = pytest.mark.django_db


def open_alerts(subject):
    return sorted(
        Alert.objects.filter(subject=subject)
        .exclude(status="resolved")
        .values_list("category", "rules", "severity")
    )


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        ("23", [("tdm_needed", ["T1"], "high")]),  # a trough is not a Cmax
        ("7.01", [("tdm_needed", ["T1"], "high")]),
        ("7", [("clinical_review", ["C1"], "routine")]),
        ("6", [("clinical_review", ["C1"], "routine")]),
        ("1", [("clinical_review", ["C1"], "routine")]),
        ("0.99", [("tdm_needed", ["T1"], "high")]),
    ],
)
def test_only_a_peak_window_sample_replaces_a_tdm_request(hours, expected):
    subject = SubjectFactory()
    RegimenChangeFactory(
        subject=subject, effective_from=timezone.now() - timedelta(days=40), dose_mg_per_day=500
    )
    ResponseFactory(subject=subject, answers=phq9_answers(12))
    CmaxResultFactory(subject=subject, value="25", hours_post_dose=hours)

    evaluate_subject(subject_id=subject.pk)

    assert open_alerts(subject) == expected


def test_a_cmax_of_12_raises_a_below_range_finding():
    subject = SubjectFactory()
    RegimenChangeFactory(
        subject=subject, effective_from=timezone.now() - timedelta(days=40), dose_mg_per_day=500
    )
    result = CmaxResultFactory(subject=subject, value="12")

    evaluate_subject(subject_id=subject.pk)

    alert = Alert.objects.get(subject=subject)
    assert (alert.category, alert.rules, alert.severity) == ("dose_review", ["B1"], "routine")
    assert [str(pk) for pk in alert.evidence_cmax_results.values_list("id", flat=True)] == [
        str(result.pk)
    ]


@pytest.mark.parametrize("trigger", ["renal", "dose"])
def test_tdm_overdue_fires_once_per_overdue_period(trigger):
    now = timezone.now()
    subject = SubjectFactory(renal_impairment=trigger == "renal")
    RegimenChangeFactory(
        subject=subject,
        effective_from=now - timedelta(days=40),
        dose_mg_per_day=750 if trigger == "dose" else 500,
    )
    CmaxResultFactory(subject=subject, value="25", sampled_at=now - timedelta(days=7, hours=-1))
    clinician = UserFactory(site=subject.site)

    evaluate_subject(subject_id=subject.pk)
    assert open_alerts(subject) == []  # 7 days - 1 h: in time

    with time_machine.travel(now + timedelta(hours=2)):  # 7 days + 1 h
        evaluate_subject(subject_id=subject.pk)
        assert open_alerts(subject) == [("tdm_needed", ["W1"], "routine")]
        alert = Alert.objects.get(subject=subject)
        resolve_alert(alert_id=alert.pk, user=clinician, action_taken="no_change", note="booked")

    for days in (1, 3, 6):  # the same overdue period: periodic evaluations raise nothing
        with time_machine.travel(now + timedelta(days=days)):
            evaluate_subject(subject_id=subject.pk)
    assert Alert.objects.filter(subject=subject).count() == 1

    # A new sample ends the period; a week later a new one starts and fires again.
    with time_machine.travel(now + timedelta(days=7)):
        CmaxResultFactory(subject=subject, value="25", sampled_at=timezone.now())
        evaluate_subject(subject_id=subject.pk)
    assert Alert.objects.filter(subject=subject).count() == 1
    with time_machine.travel(now + timedelta(days=14, hours=1)):
        evaluate_subject(subject_id=subject.pk)
    assert Alert.objects.filter(subject=subject).count() == 2
    assert open_alerts(subject) == [("tdm_needed", ["W1"], "routine")]


@pytest.mark.parametrize(("total", "expected"), [(9, []), (10, [("tdm_needed", ["T1"], "high")])])
def test_a_staff_phq9_with_three_blanks_whose_answers_sum_to_10_is_a_positive_screen(
    total, expected
):
    from screening.services.submissions import enter_staff_response

    subject = SubjectFactory()
    answers = {**phq9_answers(total), "phq9_6": None, "phq9_7": None, "phq9_8": None}
    assert sum(v for v in answers.values() if v) == total  # the blanks held zeros
    response = enter_staff_response(
        subject=subject,
        instrument_code="PHQ-9",
        answers=answers,
        completed_at=timezone.now() - timedelta(hours=1),
        source="paper",
        entered_by=UserFactory(site=subject.site),
    )
    assert response.valid is False

    evaluate_subject(subject_id=subject.pk)

    assert open_alerts(subject) == expected
    if expected:
        alert = Alert.objects.get(subject=subject)
        assert alert.reasons[0]["text"].startswith(
            "PHQ-9 incomplete (3 item(s) unanswered): total at least 10"
        )
        assert alert.inputs["incomplete_scores"]["PHQ-9"]["total_at_least"] == 10
