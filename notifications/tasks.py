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
