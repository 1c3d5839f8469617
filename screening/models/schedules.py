"""Screening schedules and the assessments materialised from them."""

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Schedule(models.Model):
    """A named set of entries: which instrument is due when, relative to treatment start."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    site = models.ForeignKey(
        "screening.Site", on_delete=models.PROTECT, related_name="schedules", null=True, blank=True
    )
    is_default = models.BooleanField(
        default=False, help_text="New subjects of the site get this schedule."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["site"], condition=Q(is_default=True), name="schedule_one_default_per_site"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ScheduleEntry(models.Model):
    """One instrument on a schedule: first due at offset_days, then every repeat_every_days."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="entries")
    instrument_code = models.CharField(max_length=32)
    offset_days = models.PositiveIntegerField(default=0)
    repeat_every_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    until_day = models.PositiveIntegerField(
        null=True, blank=True, help_text="Last day after treatment start an occurrence may fall on."
    )
    time_of_day = models.TimeField(help_text="Local time of day in the subject's time zone.")
    window_hours = models.PositiveIntegerField(
        default=72, validators=[MinValueValidator(1), MaxValueValidator(24 * 60)]
    )
    reminder_hours = models.JSONField(
        default=list, blank=True, help_text="Hours after opening at which to remind, e.g. [24, 48]."
    )
    retired_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when an edit removed the entry; kept for history."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["schedule", "offset_days", "instrument_code"]
        verbose_name_plural = "schedule entries"

    def __str__(self) -> str:
        return f"{self.instrument_code} from day {self.offset_days}"


class Assessment(models.Model):
    """One scheduled occurrence of an instrument for one subject."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        OPEN = "open"
        COMPLETED = "completed"
        MISSED = "missed"
        CANCELLED = "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(
        "screening.Subject", on_delete=models.PROTECT, related_name="assessments"
    )
    schedule_entry = models.ForeignKey(
        ScheduleEntry, on_delete=models.PROTECT, related_name="assessments"
    )
    occurrence = models.PositiveIntegerField()
    instrument_code = models.CharField(max_length=32)
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["opens_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "schedule_entry", "occurrence"],
                name="assessment_unique_occurrence",
            ),
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")), name="assessment_window_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "opens_at"]),
            models.Index(fields=["status", "closes_at"]),
            models.Index(fields=["subject", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_code} #{self.occurrence} ({self.status})"
