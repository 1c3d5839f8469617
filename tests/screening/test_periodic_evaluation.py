"""Time alone changes findings, so every active subject is re-evaluated periodically."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from notifications.models import Alert
from notifications.tasks import evaluate_subjects
from screening.models import EvaluationRequest, Subject
from screening.services import outbox
from screening.tasks import request_periodic_evaluations
from tests.factories import (
    CmaxResultFactory,
    RegimenChangeFactory,
    ResponseFactory,
    SubjectFactory,
    phq9_answers,
)

pytestmark = pytest.mark.django_db


def test_only_active_subjects_get_a_periodic_evaluation_request():
    active = SubjectFactory()
    ResponseFactory(subject=active, completed_at=timezone.now() - timedelta(days=1))
    withdrawn = SubjectFactory(status=Subject.Status.WITHDRAWN)
    ResponseFactory(subject=withdrawn, completed_at=timezone.now() - timedelta(days=1))

    count = request_periodic_evaluations()

    assert count == 1
    assert list(EvaluationRequest.objects.values_list("subject_id", "reason")) == [
        (active.pk, "periodic")
    ]


# The widest default window is 28 days (BPNS window, Cmax recency); the grace is 2 days.
SCREEN_HORIZON = timedelta(days=28) + outbox.PERIODIC_GRACE
CMAX_HORIZON = timedelta(days=28 + 1) + outbox.PERIODIC_GRACE


def test_only_subjects_whose_findings_can_change_with_time_are_re_evaluated():
    now = timezone.now()
    minute = timedelta(minutes=1)
    recent_response = SubjectFactory(study_id="R-IN")
    ResponseFactory(subject=recent_response, completed_at=now - SCREEN_HORIZON + minute)
    old_response = SubjectFactory(study_id="R-OUT")
    ResponseFactory(subject=old_response, completed_at=now - SCREEN_HORIZON - minute)
    recent_cmax = SubjectFactory(study_id="C-IN")
    CmaxResultFactory(subject=recent_cmax, sampled_at=now - CMAX_HORIZON + minute)
    old_cmax = SubjectFactory(study_id="C-OUT")
    CmaxResultFactory(subject=old_cmax, sampled_at=now - CMAX_HORIZON - minute)
    coming_dose = SubjectFactory(study_id="D-IN")
    RegimenChangeFactory(subject=coming_dose, effective_from=now + timedelta(days=3))
    old_dose = SubjectFactory(study_id="D-OUT")
    RegimenChangeFactory(subject=old_dose, effective_from=now - timedelta(days=30))
    SubjectFactory(study_id="NOTHING")

    with time_machine.travel(now, tick=False):
        request_periodic_evaluations()

    assert sorted(EvaluationRequest.objects.values_list("subject__study_id", flat=True)) == [
        "C-IN",
        "D-IN",
        "R-IN",
    ]


def test_a_periodic_request_still_pending_is_sent_again_not_duplicated(
    monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[list[str]] = []
    monkeypatch.setattr(outbox, "send_evaluation_batches", sent.append)
    subject = SubjectFactory()
    ResponseFactory(subject=subject, completed_at=timezone.now() - timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        request_periodic_evaluations()
        request_periodic_evaluations()

    assert EvaluationRequest.objects.count() == 1
    assert sent == [[str(subject.pk)], [str(subject.pk)]]


def test_bulk_evaluations_are_sent_in_batches_of_500(monkeypatch):
    batches: list[list[str]] = []
    monkeypatch.setattr(outbox, "send_task", lambda name, args: batches.append(args[0]) or True)

    sent = outbox.send_evaluation_batches([str(n) for n in range(1201)])

    assert sent == 1201
    assert [len(batch) for batch in batches] == [500, 500, 201]


def test_a_cmax_ageing_out_of_the_recency_window_asks_for_tdm():
    subject = SubjectFactory()
    now = timezone.now()
    CmaxResultFactory(subject=subject, value="30", sampled_at=now - timedelta(days=27))
    ResponseFactory(
        subject=subject,
        instrument_code="PHQ-9",
        answers=phq9_answers(12),
        completed_at=now - timedelta(hours=1),
    )
    request_periodic_evaluations()
    evaluate_subjects([str(subject.pk)])
    # C1, and W1: a positive screen asks for weekly TDM and the Cmax is 27 days old.
    assert sorted(Alert.objects.values_list("category", "rules")) == [
        ("clinical_review", ["C1"]),
        ("tdm_needed", ["W1"]),
    ]

    with time_machine.travel(now + timedelta(days=2)):  # the Cmax is now 29 days old
        request_periodic_evaluations()
        evaluate_subjects([str(subject.pk)])

    # No current Cmax now: T1 (high) joins the open TDM alert and raises its severity.
    assert sorted(Alert.objects.values_list("category", "rules", "severity")) == [
        ("clinical_review", ["C1"], "routine"),
        ("tdm_needed", ["T1", "W1"], "high"),
    ]


def test_the_minute_sweep_leaves_bulk_requests_to_the_bulk_queue_and_resends_a_lost_one_once(
    monkeypatch,
):
    from notifications import tasks as notification_tasks

    sent: list[list[str]] = []
    monkeypatch.setattr(outbox, "send_evaluation_batches", lambda ids: sent.append(ids) or len(ids))
    now = timezone.now()
    fresh = SubjectFactory(study_id="FRESH")
    lost = SubjectFactory(study_id="LOST")
    urgent = SubjectFactory(study_id="URGENT")
    EvaluationRequest.objects.create(
        subject=fresh, reason="periodic", created_at=now - timedelta(minutes=59)
    )
    EvaluationRequest.objects.create(
        subject=lost, reason="profile", created_at=now - timedelta(minutes=61)
    )
    EvaluationRequest.objects.create(
        subject=urgent, reason="response", created_at=now - timedelta(minutes=1)
    )

    assert notification_tasks.sweep_evaluations() == 1  # the urgent one, inline
    notification_tasks.sweep_evaluations()

    assert sent == [[str(lost.pk)]]
    assert set(
        EvaluationRequest.objects.filter(processed_at__isnull=True).values_list(
            "subject__study_id", flat=True
        )
    ) == {"FRESH", "LOST"}
