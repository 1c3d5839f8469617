"""Record that a subject needs evaluating, in the transaction that changed its data.

The row is the truth: a task named ``notifications.evaluate_subject`` is sent after the commit
as a trigger, and a beat sweep in ``notifications`` re-sends whatever is still pending, so a
broker outage or a worker crash delays an alert but never loses it. ``screening`` sends the
task by name so that it never imports ``notifications``.
"""

import logging
from uuid import UUID

from django.db import transaction

from config.celery_app import app
from screening.models import EvaluationRequest, Subject

logger = logging.getLogger(__name__)

EVALUATE_TASK = "notifications.evaluate_subject"


def request_evaluation(
    *, subject: Subject, reason: str, source_id: str | UUID = ""
) -> EvaluationRequest:
    """Write an outbox row for the subject and send the evaluation task after commit."""
    request = EvaluationRequest.objects.create(
        subject=subject, reason=reason, source_id=str(source_id)
    )
    subject_id = str(subject.pk)
    transaction.on_commit(lambda: send_evaluation(subject_id))
    return request


def send_evaluation(subject_id: str) -> None:
    """Send the evaluation task; if the broker is down, the pending row waits for the sweep."""
    try:
        app.send_task(EVALUATE_TASK, args=[subject_id])
    except Exception as exc:  # broker down: the outbox row is still pending, the sweep retries
        logger.warning(
            "evaluation not sent; the sweep will retry",
            extra={"subject_id": subject_id, "error": type(exc).__name__},
        )


def request_evaluation_of_active_subjects(*, reason: str, source_id: str = "") -> int:
    """Write one outbox row per active subject and send their tasks after commit; return count."""
    subject_ids = list(
        Subject.objects.filter(status=Subject.Status.ACTIVE).values_list("id", flat=True)
    )
    EvaluationRequest.objects.bulk_create(
        [
            EvaluationRequest(subject_id=subject_id, reason=reason, source_id=source_id)
            for subject_id in subject_ids
        ],
        batch_size=1000,
    )
    ids = [str(subject_id) for subject_id in subject_ids]
    transaction.on_commit(lambda: send_evaluations(ids))
    return len(ids)


def send_evaluations(subject_ids: list[str]) -> int:
    """Send one evaluation task per subject; stop at the first broker failure (the sweep resends).

    Return how many were sent.
    """
    sent = 0
    for subject_id in subject_ids:
        try:
            app.send_task(EVALUATE_TASK, args=[subject_id])
        except Exception as exc:  # broker down: the outbox rows stay pending for the sweep
            logger.warning(
                "evaluations not sent; the sweep will retry",
                extra={"pending": len(subject_ids) - sent, "error": type(exc).__name__},
            )
            break
        sent += 1
    return sent
