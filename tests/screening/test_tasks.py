"""Beat tasks: the sweeps open, miss and materialise idempotently as time passes."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from screening import services, tasks
from screening.models import Assessment
from tests.factories import ScheduleEntryFactory, ScheduleFactory, SiteFactory

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
        subject = services.enrol_subject(
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
        assert tasks.materialise_all() == 1
    assert statuses(subject) == [(0, "missed"), (1, "scheduled")]


def test_materialise_subject_task_is_idempotent():
    site = SiteFactory()
    schedule = ScheduleFactory(site=site)
    ScheduleEntryFactory(schedule=schedule)
    with time_machine.travel(datetime(2025, 3, 3, 6, 0, tzinfo=UTC), tick=False):
        subject = services.enrol_subject(
            site=site,
            study_id="T-2",
            treatment_start=date(2025, 3, 3),
            timezone_name="UTC",
            schedule=schedule,
        )
        before = Assessment.objects.count()
        tasks.materialise_subject(str(subject.pk))
        tasks.materialise_subject("00000000-0000-0000-0000-000000000000")

    assert Assessment.objects.count() == before == 13
