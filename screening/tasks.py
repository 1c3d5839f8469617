"""Celery tasks of screening: thin, idempotent triggers that take ids and call services."""

import logging

from celery import shared_task
from django.db import transaction

from screening.services import assessments, outbox

from .models import EvaluationRequest, Subject

logger = logging.getLogger(__name__)


@shared_task(name="screening.materialise_all", acks_late=True)
def materialise_all() -> int:
    """Safety net (beat, hourly): materialise every active subject's assessments."""
    ids = list(
        Subject.objects.filter(status=Subject.Status.ACTIVE, schedule__isnull=False).values_list(
            "pk", flat=True
        )
    )
    for subject_id in ids:
        subject = Subject.objects.filter(pk=subject_id).first()
        if subject is not None:
            assessments.materialise_assessments(subject=subject)
    return len(ids)


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
    """Queue an evaluation of every active subject (beat, every 6 hours).

    Time alone changes findings: a Cmax ages out of the recency window (-> TDM needed), a dated
    dose change takes effect, a screen leaves its look-back window. Evaluation is idempotent, so
    this pages nobody twice.
    """
    with transaction.atomic():
        count = outbox.request_evaluation_of_active_subjects(
            reason=EvaluationRequest.Reason.PERIODIC
        )
    logger.info("periodic evaluations requested", extra={"count": count})
    return count
