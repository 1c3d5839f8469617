"""Celery tasks of the notifications app: thin triggers that take ids and call services."""

from celery import shared_task
from django.utils import timezone

from .models import WorkerHeartbeat


@shared_task(name="notifications.record_heartbeat", bind=True)
def record_heartbeat(self) -> None:
    """Record that a worker is consuming the queue (beat sends this every minute)."""
    WorkerHeartbeat.objects.update_or_create(
        id=1, defaults={"seen_at": timezone.now(), "hostname": self.request.hostname or ""}
    )


@shared_task(name="notifications.send_due_reminders", acks_late=True)
def send_due_reminders() -> dict:
    """Send the subject reminders that are due (beat, every minute; idempotent)."""
    from . import reminders

    return reminders.send_due_reminders()
