"""The minute sweeps' cost follows the rows due, not the table: EXPLAIN shows index reads only."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from screening.models import Assessment, Response
from screening.services import assessments
from tests.factories import ResponseFactory, ScheduleEntryFactory, SubjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def big_tables():
    """5,000 future assessments, 3,000 answered past ones with their responses, 3 due."""
    now = timezone.now()
    subject = SubjectFactory()
    entry = ScheduleEntryFactory(schedule__site=subject.site)

    def rows(status: str, start: int, count: int, opens_at):
        return [
            Assessment(
                subject=subject,
                schedule_entry=entry,
                occurrence=start + n,
                instrument_code="PHQ-9",
                opens_at=opens_at(n),
                closes_at=opens_at(n) + timedelta(hours=72),
                status=status,
            )
            for n in range(count)
        ]

    Assessment.objects.bulk_create(
        rows("scheduled", 0, 5000, lambda n: now + timedelta(days=1 + n))
        + rows("open", 5000, 3, lambda n: now - timedelta(days=4))
    )
    done = Assessment.objects.bulk_create(
        rows("completed", 6000, 3000, lambda n: now - timedelta(days=10 + n))
    )
    template = ResponseFactory.build(subject=subject)
    Response.objects.bulk_create(
        [
            Response(
                subject=subject,
                assessment=assessment,
                instrument_version=template.instrument_version,
                instrument_code="PHQ-9",
                source="phone",
                answers=template.answers,
                score=template.score,
                valid=True,
                completed_at=assessment.opens_at,
            )
            for assessment in done
        ],
        batch_size=1000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE screening_assessment")
        cursor.execute("ANALYZE screening_response")
    return now


def test_the_open_sweep_reads_only_scheduled_rows_whose_window_started(big_tables):
    now = big_tables
    plan = Assessment.objects.filter(
        status=Assessment.Status.SCHEDULED, opens_at__lte=now, closes_at__gt=now
    ).explain()

    assert "Seq Scan on screening_assessment" not in plan, plan
    assert "assessment_scheduled_idx" in plan, plan


def test_the_missed_sweep_reads_only_unanswered_rows_past_their_window(big_tables):
    now = big_tables
    due = Assessment.objects.filter(status__in=["scheduled", "open"], closes_at__lte=now)
    due_plan = due.values_list("pk", flat=True)[: assessments.SWEEP_BATCH].explain()
    ids = list(due.values_list("pk", flat=True))
    missed_plan = assessments.missed_among(ids).explain()

    assert "Seq Scan on screening_assessment" not in due_plan, due_plan
    assert "assessment_unanswered_idx" in due_plan, due_plan
    assert "Seq Scan" not in missed_plan, missed_plan
    assert assessments.close_missed_assessments(now=now) == 3
