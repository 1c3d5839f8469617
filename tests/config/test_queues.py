"""Urgent work never waits for bulk work: two queues, routed by task name, served urgent first."""

import pytest
from django.db import transaction

from config.celery_app import BULK_QUEUE, URGENT_QUEUE, app
from notifications.models import Alert
from screening.models import EvaluationRequest, Subject
from screening.services import outbox
from tests.conftest import WorkerProcess
from tests.factories import ResponseFactory, SiteFactory, SubjectFactory, phq9_answers
from tests.support import wait_for


def queue_of(name: str) -> str:
    return app.amqp.router.route({}, name)["queue"].name


@pytest.mark.parametrize(
    "name",
    [
        "notifications.evaluate_subject",
        "notifications.sweep_evaluations",
        "notifications.deliver",
        "notifications.sweep_deliveries",
        "notifications.escalate_alerts",
        "notifications.record_heartbeat",
    ],
)
def test_evaluations_of_new_data_deliveries_and_escalation_go_to_the_urgent_queue(name):
    assert queue_of(name) == URGENT_QUEUE


@pytest.mark.parametrize(
    "name",
    [
        "notifications.evaluate_subjects",
        "screening.request_periodic_evaluations",
        "screening.materialise_all",
        "screening.materialise_subjects",
        "screening.open_due_assessments",
        "screening.close_missed_assessments",
        "notifications.send_due_reminders",
    ],
)
def test_periodic_re_evaluation_materialisation_and_sweeps_go_to_the_bulk_queue(name):
    assert queue_of(name) == BULK_QUEUE


def test_a_task_nobody_routed_goes_to_the_urgent_queue_which_every_worker_reads():
    assert queue_of("notifications.some_future_task") == URGENT_QUEUE


def test_every_beat_task_is_routed_explicitly():
    routes = app.conf.task_routes
    assert {entry["task"] for entry in app.conf.beat_schedule.values()} - set(routes) == set()


@pytest.mark.worker
def test_an_urgent_evaluation_runs_while_thousands_of_bulk_re_evaluations_wait(
    transactional_db, redis_client, tmp_path
):
    """As in ``make run``: one worker serves urgent only, one urgent and bulk."""
    redis_client.flushdb()
    site = SiteFactory()
    template = SubjectFactory.build(site=site)
    subjects = Subject.objects.bulk_create(
        [
            Subject(
                site=site,
                study_id=f"B-{n:05d}",
                timezone=template.timezone,
                treatment_start=template.treatment_start,
            )
            for n in range(3000)
        ]
    )
    with transaction.atomic():
        queued = outbox.request_bulk_evaluations(
            [subject.pk for subject in subjects], reason=EvaluationRequest.Reason.PERIODIC
        )
    assert queued == 3000
    assert redis_client.llen(BULK_QUEUE) == 3000 // outbox.BATCH_SIZE

    urgent = WorkerProcess(tmp_path / "urgent.log", queues=URGENT_QUEUE).start()
    mixed = WorkerProcess(tmp_path / "mixed.log", queues=f"{URGENT_QUEUE},{BULK_QUEUE}").start()
    try:
        patient = SubjectFactory(site=site)
        with transaction.atomic():
            ResponseFactory(subject=patient, answers=phq9_answers(5, item9=1))
            outbox.request_evaluation(subject=patient, reason="response")

        alert = wait_for(lambda: Alert.objects.filter(subject=patient).first(), timeout=60)
        assert (alert.category, alert.severity) == ("discontinuation", "urgent")
        # The bulk backlog is still there: the urgent evaluation did not wait for it.
        assert (
            EvaluationRequest.objects.filter(processed_at__isnull=True, reason="periodic").count()
            > 1000
        )
    finally:
        urgent.stop()
        mixed.stop()
    assert "notifications.evaluate_subject" in urgent.log()
