"""Record that a subject needs evaluating, in the transaction that changed its data.

The row is the truth: a task named ``notifications.evaluate_subject`` is sent after the commit
as a trigger, and a beat sweep in ``notifications`` re-sends whatever is still pending, so a
broker outage or a worker crash delays an alert but never loses it. ``screening`` sends the
task by name so that it never imports ``notifications``.
"""

from datetime import datetime, timedelta
from uuid import UUID

from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.db.models.functions import Greatest

from config.tasks import send_task, send_task_on_commit
from screening.models import (
    CmaxResult,
    EvaluationRequest,
    MonitoringProfile,
    RegimenChange,
    Response,
    Subject,
)

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


# Re-evaluations of many subjects at once (periodic, after a profile change) are bulk work: their
# tasks go to the ``bulk`` queue (config/celery_app.py) in batches of this many subjects, so an
# evaluation triggered by new data (``urgent``) never waits behind them.
BATCH_TASK = "notifications.evaluate_subjects"
BATCH_SIZE = 500
BULK_REASONS = (EvaluationRequest.Reason.PERIODIC, EvaluationRequest.Reason.PROFILE)
# A subject whose latest evidence left every window this long ago gets no periodic re-evaluation:
# its findings can no longer change with time. The grace covers periodic runs missed in an outage.
PERIODIC_GRACE = timedelta(days=2)


def request_evaluation_of_active_subjects(*, reason: str, source_id: str = "") -> int:
    """Write one outbox row per active subject and send batch tasks after commit; return count."""
    subject_ids = list(
        Subject.objects.filter(status=Subject.Status.ACTIVE).values_list("id", flat=True)
    )
    return request_bulk_evaluations(subject_ids, reason=reason, source_id=source_id)


def request_bulk_evaluations(subject_ids: list, *, reason: str, source_id: str = "") -> int:
    """Write one outbox row per subject; after commit send them to the bulk queue in batches."""
    EvaluationRequest.objects.bulk_create(
        [
            EvaluationRequest(subject_id=subject_id, reason=reason, source_id=source_id)
            for subject_id in subject_ids
        ],
        batch_size=1000,
    )
    ids = [str(subject_id) for subject_id in subject_ids]
    if ids:
        transaction.on_commit(lambda: send_evaluation_batches(ids))
    return len(ids)


def time_sensitive_subject_ids(*, now: datetime) -> list:
    """Active subjects whose findings can change with time alone, as of ``now``.

    Findings come from responses inside the look-back (or BPNS) window, Cmax samples inside the
    recency window (plus ``screening.evidence.CMAX_LOAD_MARGIN``) and the regimen in effect. Time
    changes them only while a response or a sample is inside (or about to leave) its window, or a
    dose change is about to take effect (or just has); a subject with none of these has the same
    findings tomorrow as today. The widest window of any profile is used, plus a grace.
    """
    widest = MonitoringProfile.objects.aggregate(
        screens=Max(Greatest("lookback_days", "bpns_window_days")),
        cmax=Max("cmax_recency_days"),
    )
    screens_since = now - timedelta(days=widest["screens"] or 0) - PERIODIC_GRACE
    cmax_since = now - timedelta(days=(widest["cmax"] or 0) + 1) - PERIODIC_GRACE
    regimen_since = now - PERIODIC_GRACE
    subject = OuterRef("pk")
    return list(
        Subject.objects.filter(status=Subject.Status.ACTIVE)
        .filter(
            Exists(Response.objects.filter(subject=subject, completed_at__gte=screens_since))
            | Exists(CmaxResult.objects.filter(subject=subject, sampled_at__gte=cmax_since))
            | Exists(
                RegimenChange.objects.filter(subject=subject, effective_from__gte=regimen_since)
            )
        )
        .order_by()
        .values_list("id", flat=True)
    )


def request_periodic_evaluations(*, now: datetime) -> int:
    """Queue a re-evaluation of every subject whose findings can change with time; return count.

    A subject that still has a bulk request pending (its batch was lost with the broker) gets no
    second row: its pending row is sent again.
    """
    candidates = time_sensitive_subject_ids(now=now)
    pending = set(
        EvaluationRequest.objects.filter(
            processed_at__isnull=True, reason__in=BULK_REASONS
        ).values_list("subject_id", flat=True)
    )
    new = [subject_id for subject_id in candidates if subject_id not in pending]
    count = request_bulk_evaluations(new, reason=EvaluationRequest.Reason.PERIODIC)
    again = [str(subject_id) for subject_id in pending]
    if again:
        transaction.on_commit(lambda: send_evaluation_batches(again))
    return count + len(again)


def send_evaluation_batches(subject_ids: list[str], batch_size: int = BATCH_SIZE) -> int:
    """Send the subjects to the bulk queue, ``batch_size`` a task; stop at a broker failure.

    Return how many subjects were sent (the rest stay pending; the sweep or the next periodic run
    sends them again).
    """
    sent = 0
    for start in range(0, len(subject_ids), batch_size):
        batch = subject_ids[start : start + batch_size]
        if not send_task(BATCH_TASK, [batch]):
            break  # broker down: the outbox rows stay pending
        sent += len(batch)
    return sent
