"""Tests for notifications/tasks.py: the evaluation task, the sweep, and a real worker."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery_app import app
from notifications import evaluation
from notifications.models import Alert
from notifications.tasks import evaluate_subject, sweep_evaluations
from screening.models import EvaluationRequest
from tests.factories import ResponseFactory, SubjectFactory, UserFactory, phq9_answers, staff_client
from tests.support import wait_for


def pending(subject, *, age: timedelta = timedelta(minutes=1)) -> EvaluationRequest:
    return EvaluationRequest.objects.create(
        subject=subject, reason="response", created_at=timezone.now() - age
    )


@pytest.mark.django_db
def test_the_task_evaluates_only_a_subject_with_pending_requests():
    subject = SubjectFactory()
    ResponseFactory(subject=subject, answers=phq9_answers(12))

    evaluate_subject(str(subject.pk))  # nothing pending: evaluated already
    assert Alert.objects.count() == 0

    request = pending(subject)
    evaluate_subject(str(subject.pk))

    request.refresh_from_db()
    assert list(Alert.objects.values_list("category", flat=True)) == ["tdm_needed"]
    assert request.processed_at is not None


@pytest.mark.django_db
def test_the_task_drops_a_malformed_subject_id():
    assert evaluate_subject("not-a-uuid") is None


@pytest.mark.django_db
def test_the_sweep_leaves_fresh_requests_to_their_own_task():
    subject = SubjectFactory()
    request = pending(subject, age=timedelta(seconds=5))

    assert sweep_evaluations() == 0

    request.refresh_from_db()
    assert (request.processed_at, request.attempts) == (None, 0)


@pytest.mark.django_db
def test_a_failing_subject_stays_pending_and_does_not_block_the_others(monkeypatch):
    broken, fine = SubjectFactory(), SubjectFactory()
    broken_request, fine_request = pending(broken), pending(fine)
    real = evaluation.evaluate_subject

    def evaluate(*, subject_id, now=None):
        if str(subject_id) == str(broken.pk):
            raise RuntimeError("boom")
        return real(subject_id=subject_id, now=now)

    monkeypatch.setattr(evaluation, "evaluate_subject", evaluate)

    assert sweep_evaluations() == 1

    broken_request.refresh_from_db()
    fine_request.refresh_from_db()
    assert (broken_request.processed_at, broken_request.attempts) == (None, 1)
    assert (fine_request.processed_at is not None, fine_request.attempts) == (True, 1)


def test_beat_sends_the_sweep_every_minute():
    assert app.conf.beat_schedule["notifications.sweep_evaluations"] == {
        "task": "notifications.sweep_evaluations",
        "schedule": 60.0,
    }


@pytest.mark.worker
def test_a_cmax_posted_through_the_api_is_evaluated_by_a_real_worker(celery_worker):
    subject = SubjectFactory()
    client = staff_client(UserFactory(site=subject.site))
    phq9 = ResponseFactory(subject=subject, answers=phq9_answers(12))

    response = client.post(
        f"/api/v1/subjects/{subject.pk}/cmax-results/",
        {
            "value": "38",
            "unit": "mg/L",
            "sampled_at": (timezone.now() - timedelta(hours=3)).isoformat(),
            "hours_post_dose": "2",
            "lab_reference": "LAB-WORKER",
        },
        format="json",
    )
    assert response.status_code == 201

    alert = wait_for(lambda: Alert.objects.filter(subject=subject).first())
    assert (alert.category, alert.severity, alert.rules) == ("dose_review", "high", ["R1"])
    assert [str(pk) for pk in alert.evidence_responses.values_list("id", flat=True)] == [
        str(phq9.pk)
    ]
    assert [str(pk) for pk in alert.evidence_cmax_results.values_list("id", flat=True)] == [
        response.json()["id"]
    ]
    assert wait_for(
        lambda: not EvaluationRequest.objects.filter(processed_at__isnull=True).exists()
    )
