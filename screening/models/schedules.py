"""Screening schedules and the assessments materialised from them."""

import uuid

from django.core.exceptions import ValidationError
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

    def clean(self) -> None:
        from screening.occurrences import MAX_DAY

        errors = entry_timing_errors(
            offset_days=self.offset_days,
            repeat_every_days=self.repeat_every_days,
            until_day=self.until_day,
            window_hours=self.window_hours,
            reminder_hours=self.reminder_hours,
            max_day=MAX_DAY,
        )
        if errors:
            raise ValidationError(errors)


def entry_timing_errors(
    *, offset_days, repeat_every_days, until_day, window_hours, reminder_hours, max_day
) -> dict[str, list[str]]:
    """Return per-field problems of an entry's timing (shared by the API and the admin)."""
    errors: dict[str, list[str]] = {}
    if repeat_every_days is not None and until_day is None:
        errors["until_day"] = ["A repeating entry needs a last day."]
    if until_day is not None:
        if until_day > max_day:
            errors["until_day"] = [f"Ensure this value is at most {max_day}."]
        elif offset_days is not None and until_day < offset_days:
            errors["until_day"] = ["The last day cannot be before the first (offset_days)."]
    if offset_days is not None and offset_days > max_day:
        errors["offset_days"] = [f"Ensure this value is at most {max_day}."]
    if not isinstance(reminder_hours, list) or not all(
        isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in reminder_hours
    ):
        errors["reminder_hours"] = ["A list of positive whole hours."]
    elif window_hours is not None and any(h >= window_hours for h in reminder_hours):
        errors["reminder_hours"] = ["Every reminder must fall inside the window."]
    elif len(reminder_hours) > 10 or len(set(reminder_hours)) != len(reminder_hours):
        errors["reminder_hours"] = ["At most ten distinct offsets."]
    return errors


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
            # The minute sweeps read only the rows they may change, by time: their cost follows
            # the rows due, not the table (checked with EXPLAIN in tests/screening).
            models.Index(
                fields=["opens_at"],
                condition=Q(status="scheduled"),
                name="assessment_scheduled_idx",
            ),
            models.Index(
                fields=["closes_at"],
                condition=Q(status__in=["scheduled", "open"]),
                name="assessment_unanswered_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_code} #{self.occurrence} ({self.status})"
