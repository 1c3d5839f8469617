"""Celery tasks of the notifications app: thin triggers that take ids and call domain code."""

import logging
import uuid
from datetime import timedelta

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.db.models import F, Min
from django.utils import timezone

from notifications import delivery, evaluation
from screening.models import EvaluationRequest
from screening.services import outbox

from . import escalation, reconciliation, reminders
from .exports import services as exports
from .models import WorkerHeartbeat

logger = logging.getLogger(__name__)

# A pending request this old was not (or not yet) handled by its own task: the sweep takes it.
SWEEP_MIN_AGE = timedelta(seconds=30)
# Subjects evaluated per sweep; the rest wait for the next tick (a minute).
SWEEP_BATCH = 200
# A bulk request (periodic, profile change) still pending this long lost its batch: send it again.
BULK_RESEND_AFTER = timedelta(hours=1)
# Subjects re-sent per sweep (the rest next minute).
BULK_RESEND_MAX = 5000
# Attempts after which a pending request is logged as an error (it is still retried).
STUCK_ATTEMPTS = 10


@shared_task(name="notifications.record_heartbeat", bind=True)
def record_heartbeat(self) -> None:
    """Record that a worker is consuming the queue (beat sends this every minute)."""
    WorkerHeartbeat.objects.update_or_create(
        id=1, defaults={"seen_at": timezone.now(), "hostname": self.request.hostname or ""}
    )


@shared_task(name="notifications.send_due_reminders", acks_late=True)
def send_due_reminders() -> dict:
    """Plan the deliveries of the subject reminders that are due (beat, every minute)."""
    return reminders.send_due_reminders()


@shared_task(
    name="notifications.evaluate_subject",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=8,
)
def evaluate_subject(subject_id: str) -> None:
    """Evaluate a subject that has pending evaluation requests (a trigger of the outbox row)."""
    try:
        uuid.UUID(str(subject_id))
    except ValueError:
        logger.error("evaluation task with a malformed subject id dropped")
        return
    if not EvaluationRequest.objects.filter(
        subject_id=subject_id, processed_at__isnull=True
    ).exists():
        return  # evaluated already, by an earlier task or the sweep
    evaluation.evaluate_subject(subject_id=subject_id)


@shared_task(name="notifications.evaluate_subjects", acks_late=True)
def evaluate_subjects(subject_ids: list[str]) -> int:
    """Evaluate a batch of subjects with pending requests (bulk queue: periodic, profile change).

    Each subject in its own transaction; one failure leaves that subject's request pending (the
    sweep or the next periodic run retries it) and the batch goes on. Return how many evaluated.
    """
    ids = []
    for subject_id in subject_ids:
        try:
            ids.append(uuid.UUID(str(subject_id)))
        except ValueError:
            logger.error("evaluation batch with a malformed subject id: id dropped")
    pending = set(
        EvaluationRequest.objects.filter(subject_id__in=ids, processed_at__isnull=True).values_list(
            "subject_id", flat=True
        )
    )
    evaluated = 0
    for subject_uuid in ids:
        if subject_uuid not in pending:
            continue  # evaluated already, by an urgent task or the sweep
        try:
            evaluation.evaluate_subject(subject_id=subject_uuid)
        except Exception:
            logger.warning(
                "evaluation failed; it stays pending",
                extra={"subject_id": str(subject_uuid)},
                exc_info=True,
            )
            continue
        evaluated += 1
    return evaluated


@shared_task(name="notifications.sweep_evaluations")
def sweep_evaluations(min_age_seconds: int = int(SWEEP_MIN_AGE.total_seconds())) -> int:
    """Evaluate subjects whose evaluation requests are still pending; return how many.

    Beat sends this every minute. Each subject is evaluated in its own transaction, so one
    failure neither blocks the others nor loses the request (it stays pending, attempts + 1).
    Only subjects with a request triggered by new data are evaluated here (this runs on the
    urgent queue); bulk requests (periodic, profile change) are waiting in the bulk queue, and
    those pending for over ``BULK_RESEND_AFTER`` (their batch was lost) are sent there again once.
    """
    resend_bulk_requests()
    cutoff = timezone.now() - timedelta(seconds=min_age_seconds)
    # Oldest first, so a backlog larger than a batch cannot starve anyone.
    subject_ids = list(
        EvaluationRequest.objects.filter(processed_at__isnull=True, created_at__lte=cutoff)
        .exclude(reason__in=outbox.BULK_REASONS)
        .values("subject_id")
        .annotate(oldest=Min("created_at"))
        .order_by("oldest")
        .values_list("subject_id", flat=True)[:SWEEP_BATCH]
    )
    evaluated = 0
    for subject_id in subject_ids:
        EvaluationRequest.objects.filter(
            subject_id=subject_id, processed_at__isnull=True, created_at__lte=cutoff
        ).update(attempts=F("attempts") + 1)
        try:
            evaluation.evaluate_subject(subject_id=subject_id)
        except Exception:
            stuck = EvaluationRequest.objects.filter(
                subject_id=subject_id, processed_at__isnull=True, attempts__gte=STUCK_ATTEMPTS
            ).exists()
            log = logger.error if stuck else logger.warning
            log(
                "evaluation failed; it stays pending",
                extra={"subject_id": str(subject_id)},
                exc_info=True,
            )
            continue
        evaluated += 1
    return evaluated


def resend_bulk_requests() -> int:
    """Send again, once, the bulk requests pending for over ``BULK_RESEND_AFTER``; return count."""
    stale = EvaluationRequest.objects.filter(
        processed_at__isnull=True,
        reason__in=outbox.BULK_REASONS,
        attempts=0,
        created_at__lte=timezone.now() - BULK_RESEND_AFTER,
    )
    subject_ids = list(
        stale.order_by().values_list("subject_id", flat=True).distinct()[:BULK_RESEND_MAX]
    )
    if not subject_ids:
        return 0
    EvaluationRequest.objects.filter(
        subject_id__in=subject_ids, processed_at__isnull=True, reason__in=outbox.BULK_REASONS
    ).update(attempts=F("attempts") + 1)
    return outbox.send_evaluation_batches([str(subject_id) for subject_id in subject_ids])


@shared_task(name="notifications.deliver")
def deliver_task(delivery_id: str) -> None:
    """Send one due delivery if nobody has (retries are timed by the row's next_attempt_at)."""
    delivery.deliver(delivery_id)


@shared_task(name="notifications.sweep_deliveries")
def sweep_deliveries_task() -> None:
    """Release deliveries stuck past their lease and re-send the task of due pending ones."""
    delivery.sweep_deliveries()


@shared_task(name="notifications.escalate_alerts")
def escalate_alerts_task() -> None:
    """Escalate urgent and high alerts not acknowledged in time; report undeliverable ones."""
    escalation.escalate_alerts()
    reconciliation.report_undeliverable()


@shared_task(name="notifications.run_export_job", acks_late=True)
def run_export_job(job_id: str) -> None:
    """Run a queued export job (idempotent: a job already running or done is left alone)."""
    try:
        uuid.UUID(str(job_id))
    except ValueError:
        logger.error("export task with a malformed job id dropped")
        return
    exports.run_export_job(job_id)


@shared_task(name="notifications.sweep_export_jobs")
def sweep_export_jobs() -> int:
    """Re-send the task of export jobs still queued, or stuck running (their worker died)."""
    return exports.sweep_export_jobs()
