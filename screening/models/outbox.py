"""The evaluation outbox: a row per subject awaiting evaluation (``screening.services.outbox``)."""

from django.db import models
from django.utils import timezone


class EvaluationRequest(models.Model):
    """Outbox row: a subject awaits evaluation. Written in the transaction that changed its data."""

    class Reason(models.TextChoices):
        RESPONSE = "response"
        CMAX = "cmax"
        REGIMEN = "regimen"
        PROFILE = "profile"
        PERIODIC = "periodic"
        MANUAL = "manual"
        AMENDMENT = "amendment"

    id = models.BigAutoField(primary_key=True)
    subject = models.ForeignKey(
        "screening.Subject", on_delete=models.CASCADE, related_name="evaluation_requests"
    )
    reason = models.CharField(max_length=16, choices=Reason.choices)
    source_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(processed_at__isnull=True),
                name="evaluation_pending_idx",
            )
        ]

    def __str__(self) -> str:
        return f"evaluate {self.subject_id} ({self.reason})"
