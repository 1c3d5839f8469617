"""What a subject (or staff, from paper or an examination) answered, with its score."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Response(models.Model):
    """One submitted instrument. Never edited: answers and score are stored once."""

    class Source(models.TextChoices):
        PHONE = "phone"
        PAPER = "paper"
        INTERVIEW = "interview"
        EXAMINATION = "examination"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(
        "screening.Subject", on_delete=models.PROTECT, related_name="responses"
    )
    assessment = models.OneToOneField(
        "screening.Assessment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="response",
        help_text="The scheduled assessment answered; empty for staff-entered forms.",
    )
    instrument_version = models.ForeignKey(
        "questionnaires.InstrumentVersion", on_delete=models.PROTECT, related_name="responses"
    )
    instrument_code = models.CharField(max_length=32)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.PHONE)
    answers = models.JSONField()
    language = models.CharField(
        max_length=16,
        blank=True,
        help_text="The language the instrument was shown in (empty for staff-entered forms).",
    )
    score = models.JSONField(help_text="The scoring function's result: total, band, flags, ...")
    valid = models.BooleanField(help_text="False when too many items are missing to score.")
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    # NULL, not "", so staff-entered forms (no key) stay outside the unique constraint.
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    request_hash = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the submitted body, to detect key reuse."
    )
    # What the phone was answered, kept so a retry with the same Idempotency-Key gets the very same
    # status and bytes back (docs/design.md §7); empty for staff-entered forms.
    reply_status = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    reply_body = models.TextField(blank=True, editable=False)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-completed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="response_unique_idempotency_key",
            ),
        ]
        indexes = [models.Index(fields=["subject", "instrument_code", "completed_at"])]

    def __str__(self) -> str:
        return f"{self.instrument_code} response {self.id}"
