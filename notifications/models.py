"""Who is told, and whether they were."""

from django.db import models
from django.utils import timezone


class WorkerHeartbeat(models.Model):
    """The last time a Celery worker ran the beat-driven heartbeat task (one row)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    seen_at = models.DateTimeField(default=timezone.now)
    hostname = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"worker seen at {self.seen_at:%Y-%m-%d %H:%M:%S}"
