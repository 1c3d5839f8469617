"""Celery tasks of screening: thin, idempotent triggers that take ids and call services."""

import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from screening.services import assessments, outbox, staff_login

from .models import Subject

logger = logging.getLogger(__name__)


# Subjects materialised per task: a bounded task whatever the number of subjects.
MATERIALISE_BATCH = 500


@shared_task(name="screening.materialise_all", acks_late=True)
def materialise_all() -> int:
    """Safety net (beat, hourly): materialise every active subject's assessments, in batches.

    This task only lists ids and sends one ``screening.materialise_subjects`` task per batch of
    ``MATERIALISE_BATCH`` subjects (bulk queue), so no task grows with the number of subjects.
    """
    ids = [
        str(pk)
        for pk in Subject.objects.filter(
            status=Subject.Status.ACTIVE, schedule__isnull=False
        ).values_list("pk", flat=True)
    ]
    for start in range(0, len(ids), MATERIALISE_BATCH):
        materialise_subjects.delay(ids[start : start + MATERIALISE_BATCH])
    return len(ids)


@shared_task(name="screening.materialise_subjects", acks_late=True)
def materialise_subjects(subject_ids: list[str]) -> int:
    """Materialise the assessments of these subjects (a batch of ``materialise_all``)."""
    done = 0
    for subject in Subject.objects.filter(
        pk__in=subject_ids, status=Subject.Status.ACTIVE, schedule__isnull=False
    ):
        assessments.materialise_assessments(subject=subject)
        done += 1
    return done


@shared_task(name="screening.open_due_assessments", acks_late=True)
def open_due_assessments() -> int:
    """Open assessments whose window has started (beat, every minute)."""
    count = assessments.open_due_assessments()
    if count:
        logger.info("assessments opened", extra={"count": count})
    return count


@shared_task(name="screening.close_missed_assessments", acks_late=True)
def close_missed_assessments() -> int:
    """Mark unanswered assessments whose window has closed as missed (beat, every minute)."""
    count = assessments.close_missed_assessments()
    if count:
        logger.info("assessments missed", extra={"count": count})
    return count


@shared_task(name="screening.request_periodic_evaluations", acks_late=True)
def request_periodic_evaluations() -> int:
    """Queue a re-evaluation of the subjects whose findings can change with time (beat, 6 h).

    Time alone changes findings: a Cmax ages out of the recency window (-> TDM needed), a dated
    dose change takes effect, a screen leaves its look-back window. Only subjects with such
    evidence are queued (``outbox.time_sensitive_subject_ids``), in batches of 500 on the bulk
    queue. Evaluation is idempotent, so this pages nobody twice.
    """
    with transaction.atomic():
        count = outbox.request_periodic_evaluations(now=timezone.now())
    logger.info("periodic evaluations requested", extra={"count": count})
    return count


@shared_task(
    name="screening.notify_staff_lockout",
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def notify_staff_lockout(user_id: int) -> int:
    """Email a staff user whose account was locked by failed sign-ins, and the admins."""
    return staff_login.notify_lockout(user_id)
