"""Assessment use-cases: materialise a subject's assessments from its schedule, open the due
ones and close the missed ones. The occurrence arithmetic itself is pure
(``screening.occurrences``); this module applies it to the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from screening import occurrences
from screening.models import (
    Assessment,
    Schedule,
    ScheduleEntry,
    Subject,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MaterialiseResult:
    created: int = 0
    retimed: int = 0
    cancelled: int = 0


def entry_spec(entry: ScheduleEntry) -> occurrences.EntrySpec:
    """Return the pure timing of a schedule entry."""
    return occurrences.EntrySpec(
        key=entry.pk,
        instrument_code=entry.instrument_code,
        offset_days=entry.offset_days,
        repeat_every_days=entry.repeat_every_days,
        until_day=entry.until_day,
        time_of_day=entry.time_of_day,
        window_hours=entry.window_hours,
    )


def _status_at(opens_at: datetime, now: datetime) -> str:
    return Assessment.Status.OPEN if opens_at <= now else Assessment.Status.SCHEDULED


@transaction.atomic
def materialise_assessments(*, subject: Subject, now: datetime | None = None) -> MaterialiseResult:
    """Bring the subject's assessments in line with its schedule; running it again changes nothing.

    Creates the missing occurrences (except those whose window has already closed; one whose
    window is open now is created open), re-times assessments that have not opened yet, and
    cancels not-yet-opened assessments that the schedule no longer has. Opened, completed,
    missed assessments are never touched. Withdrawn subjects get nothing.
    """
    now = now or timezone.now()
    # Lock and re-read the subject: a concurrent withdrawal, edit or sweep of the same subject
    # waits, and a caller's stale copy (a sweep that loaded it before a withdrawal committed)
    # cannot bring cancelled assessments back.
    locked = Subject.objects.select_for_update().filter(pk=subject.pk).first()
    if locked is None or locked.status != Subject.Status.ACTIVE:
        return MaterialiseResult()
    subject = locked
    entries = []
    if subject.schedule_id is not None:
        entries = [
            entry_spec(e)
            for e in ScheduleEntry.objects.filter(
                schedule_id=subject.schedule_id, retired_at__isnull=True
            )
        ]
    wanted = {
        (o.entry_key, o.occurrence): o
        for o in occurrences.occurrences(
            entries, treatment_start=subject.treatment_start, tz_name=subject.timezone
        )
    }
    existing: dict[tuple[object, int], Assessment] = {
        (a.schedule_entry_id, a.occurrence): a
        for a in Assessment.objects.filter(subject=subject).only(
            "id",
            "schedule_entry_id",
            "occurrence",
            "instrument_code",
            "opens_at",
            "closes_at",
            "status",
        )
    }
    to_create, retimed, to_cancel = [], 0, []
    for key, occ in wanted.items():
        current = existing.get(key)
        window_open_or_future = occ.closes_at > now
        if current is None:
            if window_open_or_future:
                to_create.append(
                    Assessment(
                        subject=subject,
                        schedule_entry_id=cast(UUID, occ.entry_key),
                        occurrence=occ.occurrence,
                        instrument_code=occ.instrument_code,
                        opens_at=occ.opens_at,
                        closes_at=occ.closes_at,
                        status=_status_at(occ.opens_at, now),
                    )
                )
            continue
        revivable = current.status == Assessment.Status.CANCELLED and window_open_or_future
        if current.status != Assessment.Status.SCHEDULED and not revivable:
            continue  # opened, answered or missed: history, never re-timed
        if not window_open_or_future:
            if current.status == Assessment.Status.SCHEDULED:
                to_cancel.append(current.pk)
            continue
        status = _status_at(occ.opens_at, now)
        wanted_values = (occ.instrument_code, occ.opens_at, occ.closes_at, status)
        if (current.instrument_code, current.opens_at, current.closes_at, current.status) != (
            wanted_values
        ):
            # Conditional on the status read, so a concurrent submission or sweep wins. An edit
            # of the entry's instrument applies too: the assessment has not opened yet.
            retimed += Assessment.objects.filter(pk=current.pk, status=current.status).update(
                instrument_code=occ.instrument_code,
                opens_at=occ.opens_at,
                closes_at=occ.closes_at,
                status=status,
                updated_at=now,
            )
    to_cancel += [
        a.pk
        for key, a in existing.items()
        if key not in wanted and a.status == Assessment.Status.SCHEDULED
    ]
    # A concurrent materialisation may have created some of them: the constraint keeps one.
    Assessment.objects.bulk_create(to_create, ignore_conflicts=True)
    cancelled = 0
    if to_cancel:
        cancelled = Assessment.objects.filter(
            pk__in=to_cancel, status=Assessment.Status.SCHEDULED
        ).update(status=Assessment.Status.CANCELLED, updated_at=now)
    if to_create or retimed or cancelled:
        logger.info(
            "assessments materialised",
            extra={
                "subject_id": str(subject.pk),
                "study_id": subject.study_id,
                "created_count": len(to_create),
                "retimed": retimed,
                "cancelled": cancelled,
            },
        )
    return MaterialiseResult(created=len(to_create), retimed=retimed, cancelled=cancelled)


def materialise_schedule_subjects(*, schedule: Schedule, now: datetime | None = None) -> int:
    """Materialise the assessments of every active subject on the schedule; return how many."""
    count = 0
    for subject in Subject.objects.filter(schedule=schedule, status=Subject.Status.ACTIVE):
        materialise_assessments(subject=subject, now=now)
        count += 1
    return count


def open_due_assessments(*, now: datetime | None = None) -> int:
    """Open scheduled assessments whose window has started and not ended; return how many."""
    now = now or timezone.now()
    return Assessment.objects.filter(
        status=Assessment.Status.SCHEDULED,
        opens_at__lte=now,
        closes_at__gt=now,
        subject__status=Subject.Status.ACTIVE,
    ).update(status=Assessment.Status.OPEN, updated_at=now)


def close_missed_assessments(*, now: datetime | None = None) -> int:
    """Mark unanswered assessments whose window has closed as missed; return how many."""
    now = now or timezone.now()
    return Assessment.objects.filter(
        status__in=[Assessment.Status.SCHEDULED, Assessment.Status.OPEN],
        closes_at__lte=now,
        response__isnull=True,
    ).update(status=Assessment.Status.MISSED, updated_at=now)
