"""Beat tasks: the sweeps open, miss and materialise idempotently as time passes."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from screening import tasks
from screening.models import Assessment
from screening.services import enrolment
from tests.factories import ScheduleEntryFactory, ScheduleFactory, SiteFactory, SubjectFactory

pytestmark = pytest.mark.django_db


def statuses(subject) -> list[tuple[int, str]]:
    return list(
        Assessment.objects.filter(subject=subject)
        .order_by("occurrence")
        .values_list("occurrence", "status")
    )


def test_sweeps_open_then_miss_as_time_passes():
    site = SiteFactory()
    schedule = ScheduleFactory(site=site)
    ScheduleEntryFactory(schedule=schedule, repeat_every_days=7, until_day=7, window_hours=24)
    with time_machine.travel(datetime(2025, 3, 3, 6, 0, tzinfo=UTC), tick=False):
        subject = enrolment.enrol_subject(
            site=site,
            study_id="T-1",
            treatment_start=date(2025, 3, 3),
            timezone_name="Africa/Johannesburg",
            schedule=schedule,
        )
    assert statuses(subject) == [(0, "scheduled"), (1, "scheduled")]

    with time_machine.travel(datetime(2025, 3, 3, 7, 0, tzinfo=UTC), tick=False):
        assert (tasks.open_due_assessments(), tasks.open_due_assessments()) == (1, 0)
    assert statuses(subject) == [(0, "open"), (1, "scheduled")]

    with time_machine.travel(datetime(2025, 3, 4, 7, 0, tzinfo=UTC), tick=False):
        assert (tasks.close_missed_assessments(), tasks.close_missed_assessments()) == (1, 0)
        assert tasks.materialise_subjects([str(subject.pk)]) == 1
    assert statuses(subject) == [(0, "missed"), (1, "scheduled")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.faults
def test_two_workers_running_the_same_sweeps_at_once_create_and_change_each_assessment_once():
    import threading

    from django.db import connection

    site = SiteFactory()
    schedule = ScheduleFactory(site=site)
    ScheduleEntryFactory(schedule=schedule, repeat_every_days=7, until_day=28, window_hours=24)
    with time_machine.travel(datetime(2025, 3, 3, 6, 0, tzinfo=UTC), tick=False):
        subject = enrolment.enrol_subject(
            site=site,
            study_id="T-3",
            treatment_start=date(2025, 3, 3),
            timezone_name="Africa/Johannesburg",
            schedule=schedule,
        )
    Assessment.objects.filter(subject=subject, occurrence__gte=2).delete()  # to be recreated
    barrier = threading.Barrier(2)
    results: list = []

    def tick() -> None:
        try:
            barrier.wait(10)
            with time_machine.travel(datetime(2025, 3, 3, 7, 0, tzinfo=UTC), tick=False):
                results.append(
                    (tasks.materialise_subjects([str(subject.pk)]), tasks.open_due_assessments())
                )
        except Exception as error:  # recorded and asserted on
            results.append(repr(error))
        finally:
            connection.close()

    workers = [threading.Thread(target=tick) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)

    # Materialisation opens the baseline as it re-times it; the open sweep then finds nothing.
    assert sorted(results) == [(1, 0), (1, 0)]
    assert statuses(subject) == [
        (0, "open"),
        (1, "scheduled"),
        (2, "scheduled"),
        (3, "scheduled"),
        (4, "scheduled"),
    ]


def test_materialise_all_sends_bounded_batches_of_subject_ids(monkeypatch):
    batches: list[list[str]] = []
    monkeypatch.setattr(tasks.materialise_subjects, "delay", batches.append)
    monkeypatch.setattr(tasks, "MATERIALISE_BATCH", 2)
    schedule = ScheduleFactory()
    subjects = [SubjectFactory(site=schedule.site, schedule=schedule) for _ in range(5)]
    SubjectFactory(site=schedule.site, schedule=schedule, status="withdrawn")
    SubjectFactory(site=schedule.site, schedule=None)

    assert tasks.materialise_all() == 5

    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert sorted(sum(batches, [])) == sorted(str(subject.pk) for subject in subjects)
