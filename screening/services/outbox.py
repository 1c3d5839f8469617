"""Record that a subject needs evaluating, in the transaction that changed its data.

The row is the truth: a task named ``notifications.evaluate_subject`` is sent after the commit
as a trigger, and a beat sweep in ``notifications`` re-sends whatever is still pending, so a
broker outage or a worker crash delays an alert but never loses it. ``screening`` sends the
task by name so that it never imports ``notifications``.
"""

from uuid import UUID

from config.tasks import send_task_on_commit, send_tasks_on_commit
from screening.models import EvaluationRequest, Subject

EVALUATE_TASK = "notifications.evaluate_subject"


def request_evaluation(
    *, subject: Subject, reason: str, source_id: str | UUID = ""
) -> EvaluationRequest:
    """Write an outbox row for the subject and send the evaluation task after commit."""
    request = EvaluationRequest.objects.create(
        subject=subject, reason=reason, source_id=str(source_id)
    )
    send_task_on_commit(EVALUATE_TASK, subject.pk)
    return request


def request_evaluation_of_active_subjects(*, reason: str, source_id: str = "") -> int:
    """Write one outbox row per active subject and send their tasks after commit; return count.

    The sends stop at the first broker failure; the rows stay pending for the sweep.
    """
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
    send_tasks_on_commit(EVALUATE_TASK, [[subject_id] for subject_id in subject_ids])
    return len(subject_ids)
