"""Urgent findings are events: late, backdated and out-of-order forms still reach a clinician.

Through the services and the evaluation against the real database (the worker path is in
tests/e2e/test_urgent_findings.py).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.alerts import resolve_alert
from notifications.evaluation import evaluate_subject
from notifications.models import Alert, Delivery
from screening.services.submissions import enter_staff_response
from tests.factories import SiteFactory, SubjectFactory, UserFactory, phq9_answers

pytestmark = pytest.mark.django_db


@pytest.fixture
def site_with_two_clinicians():
    site = SiteFactory(code="cpt")
    return site, UserFactory(site=site), UserFactory(site=site)


def paper_phq9(subject, clinician, *, total: int, item9: int, completed_ago: timedelta):
    return enter_staff_response(
        subject=subject,
        instrument_code="PHQ-9",
        answers=phq9_answers(total, item9=item9),
        completed_at=timezone.now() - completed_ago,
        source="paper",
        entered_by=clinician,
    )


def discontinuation_alerts(subject):
    return list(Alert.objects.filter(subject=subject, category="discontinuation"))


def test_item9_form_completed_before_a_newer_benign_one_but_entered_after_it_alerts_once_each(
    site_with_two_clinicians,
):
    site, ana, ben = site_with_two_clinicians
    subject = SubjectFactory(site=site)
    paper_phq9(subject, ana, total=3, item9=0, completed_ago=timedelta(days=1))
    evaluate_subject(subject_id=subject.pk)
    assert discontinuation_alerts(subject) == []

    older = paper_phq9(subject, ana, total=5, item9=3, completed_ago=timedelta(days=3))
    evaluate_subject(subject_id=subject.pk)

    [alert] = discontinuation_alerts(subject)
    assert (alert.severity, alert.rules) == ("urgent", ["D1"])
    assert list(alert.evidence_responses.values_list("id", flat=True)) == [older.pk]
    assert sorted(Delivery.objects.filter(alert=alert).values_list("recipient_id", flat=True)) == [
        ana.pk,
        ben.pk,
    ]


@pytest.mark.parametrize(
    ("item9", "alerted"),
    [(0, False), (1, True), (3, True)],
)
def test_a_paper_form_completed_20_days_ago_and_entered_today_alerts_today(
    site_with_two_clinicians, item9, alerted
):
    site, ana, _ = site_with_two_clinicians
    subject = SubjectFactory(site=site)
    paper_phq9(subject, ana, total=5, item9=item9, completed_ago=timedelta(days=20))

    evaluate_subject(subject_id=subject.pk)

    alerts = discontinuation_alerts(subject)
    assert bool(alerts) is alerted
    if alerted:
        [reason] = alerts[0].reasons
        assert "(completed 20 days ago, entered today)" in reason["text"]


def test_an_urgent_and_a_benign_form_evaluated_together_still_alert():
    site = SiteFactory()
    clinician = UserFactory(site=site)
    subject = SubjectFactory(site=site)
    paper_phq9(subject, clinician, total=8, item9=2, completed_ago=timedelta(hours=5))
    paper_phq9(subject, clinician, total=1, item9=0, completed_ago=timedelta(hours=1))

    evaluate_subject(subject_id=subject.pk)

    [alert] = discontinuation_alerts(subject)
    assert alert.rules == ["D1"]


def test_re_evaluating_the_same_late_form_fires_it_once():
    site = SiteFactory()
    clinician = UserFactory(site=site)
    subject = SubjectFactory(site=site)
    paper_phq9(subject, clinician, total=5, item9=3, completed_ago=timedelta(days=20))
    for _ in range(4):
        evaluate_subject(subject_id=subject.pk)
    [alert] = discontinuation_alerts(subject)
    resolve_alert(alert_id=alert.pk, user=clinician, action_taken="referred")
    for _ in range(3):
        evaluate_subject(subject_id=subject.pk)
    assert len(discontinuation_alerts(subject)) == 1
    assert Delivery.objects.count() == 1


def test_a_form_entered_before_a_resolution_but_evaluated_after_it_opens_a_new_alert():
    """The clinician who resolved never saw it: a delayed evaluation must not swallow it."""
    site = SiteFactory()
    clinician = UserFactory(site=site)
    subject = SubjectFactory(site=site)
    paper_phq9(subject, clinician, total=5, item9=1, completed_ago=timedelta(hours=3))
    evaluate_subject(subject_id=subject.pk)
    [first] = discontinuation_alerts(subject)
    # A second form is stored, but its evaluation is delayed (broker down) past the resolution.
    second = paper_phq9(subject, clinician, total=6, item9=2, completed_ago=timedelta(hours=2))
    resolve_alert(alert_id=first.pk, user=clinician, action_taken="referred")

    evaluate_subject(subject_id=subject.pk)

    [new] = Alert.objects.filter(subject=subject).exclude(status="resolved")
    assert second.pk in set(new.evidence_responses.values_list("id", flat=True))
