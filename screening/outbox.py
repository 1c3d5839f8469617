"""Record that a subject needs evaluating, in the transaction that changed its data.

The row is the truth: a task named ``notifications.evaluate_subject`` is sent after the commit
as a trigger, and a beat sweep in ``notifications`` re-sends whatever is still pending, so a
broker outage or a worker crash delays an alert but never loses it. ``screening`` sends the
task by name so that it never imports ``notifications``.
"""

import logging

from django.db import transaction

from config.celery_app import app

from .models import EvaluationRequest, Subject

logger = logging.getLogger(__name__)

EVALUATE_TASK = "notifications.evaluate_subject"


def request_evaluation(*, subject: Subject, reason: str, source_id: str = "") -> EvaluationRequest:
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
