"""Time alone changes findings, so every active subject is re-evaluated periodically."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from notifications.models import Alert
from notifications.tasks import sweep_evaluations
from screening.models import EvaluationRequest, Subject
from screening.tasks import request_periodic_evaluations
from tests.factories import CmaxResultFactory, ResponseFactory, SubjectFactory, phq9_answers

pytestmark = pytest.mark.django_db


def test_only_active_subjects_get_a_periodic_evaluation_request():
    active = SubjectFactory()
    SubjectFactory(status=Subject.Status.WITHDRAWN)

    count = request_periodic_evaluations()

    assert count == 1
    assert list(EvaluationRequest.objects.values_list("subject_id", "reason")) == [
        (active.pk, "periodic")
    ]


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
    sweep_evaluations(min_age_seconds=0)
    # C1, and W1: a positive screen asks for weekly TDM and the Cmax is 27 days old.
    assert sorted(Alert.objects.values_list("category", "rules")) == [
        ("clinical_review", ["C1"]),
        ("tdm_needed", ["W1"]),
    ]

    with time_machine.travel(now + timedelta(days=2)):  # the Cmax is now 29 days old
        request_periodic_evaluations()
        sweep_evaluations(min_age_seconds=0)

    # No current Cmax now: T1 (high) joins the open TDM alert and raises its severity.
    assert sorted(Alert.objects.values_list("category", "rules", "severity")) == [
        ("clinical_review", ["C1"], "routine"),
        ("tdm_needed", ["T1", "W1"], "high"),
    ]
