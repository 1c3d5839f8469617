"""Therapeutic drug monitoring: Cmax results and versioned monitoring profiles."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone


class CmaxResult(models.Model):
    """One drug-concentration sample, stored in µg/mL whatever unit the lab reported."""

    class Unit(models.TextChoices):
        UG_PER_ML = "ug/mL"
        MG_PER_L = "mg/L"
        UMOL_PER_L = "umol/L"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(
        "screening.Subject", on_delete=models.PROTECT, related_name="cmax_results"
    )
    value = models.DecimalField(max_digits=10, decimal_places=3, help_text="As reported.")
    unit = models.CharField(max_length=8, choices=Unit.choices)
    value_ug_per_ml = models.DecimalField(max_digits=10, decimal_places=3)
    sampled_at = models.DateTimeField()
    hours_post_dose = models.DecimalField(max_digits=5, decimal_places=2)
    dose_mg = models.PositiveIntegerField(null=True, blank=True)
    lab_reference = models.CharField(max_length=128)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-sampled_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "lab_reference"], name="cmax_unique_lab_reference"
            ),
        ]
        indexes = [models.Index(fields=["subject", "sampled_at"])]

    def __str__(self) -> str:
        return f"Cmax {self.value_ug_per_ml} ug/mL at {self.sampled_at:%Y-%m-%d %H:%M}"


class MonitoringProfile(models.Model):
    """One version of a drug's thresholds and windows. A change creates a new version."""

    class CeilingSource(models.TextChoices):
        WHO_2014 = "WHO 2014"
        LABEL = "label"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    drug = models.CharField(max_length=32, default="cycloserine")
    name = models.CharField(max_length=100, default="cycloserine, WHO 2014")
    version = models.PositiveIntegerField()
    # Thresholds of the decision table (docs/clinical-reference.md §3).
    phq9_positive = models.PositiveSmallIntegerField(default=10)
    gad7_positive = models.PositiveSmallIntegerField(default=10)
    phq9_severe = models.PositiveSmallIntegerField(default=20)
    d3_score = models.PositiveSmallIntegerField(default=15)
    neuropathy_grade_positive = models.PositiveSmallIntegerField(default=1)
    cmax_ceiling = models.DecimalField(
        max_digits=6, decimal_places=2, default=Decimal("35"), validators=[MinValueValidator(1)]
    )
    cmax_ceiling_source = models.CharField(
        max_length=16, choices=CeilingSource.choices, default=CeilingSource.WHO_2014
    )
    lookback_days = models.PositiveSmallIntegerField(default=14)
    bpns_window_days = models.PositiveSmallIntegerField(default=28)
    cmax_recency_days = models.PositiveSmallIntegerField(default=28)
    pyridoxine_flag_mg = models.PositiveSmallIntegerField(default=200)
    escalation_minutes = models.PositiveIntegerField(
        default=30, help_text="Urgent alerts not acknowledged in this time go to the next tier."
    )
    high_escalation_minutes = models.PositiveIntegerField(
        default=240,
        help_text="High alerts (dose review, TDM needed) not acknowledged in this time go to the "
        "next tier: within a working shift.",
    )
    recommended_actions = models.JSONField(
        default=dict, blank=True, help_text="Overrides of the default action texts, by group."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["drug", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["drug", "version"], name="profile_unique_version"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"
