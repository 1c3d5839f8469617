"""Who is told, and whether they were: alerts, channels, deliveries and subject reminders.

The row is the truth; a Celery task is only a trigger (house style).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class WorkerHeartbeat(models.Model):
    """The last time a Celery worker ran the beat-driven heartbeat task (one row)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    seen_at = models.DateTimeField(default=timezone.now)
    hostname = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"worker seen at {self.seen_at:%Y-%m-%d %H:%M:%S}"


class Channel(models.Model):
    """One way to reach a staff user (an email address, a phone number or a webhook URL) or a
    subject (their contact email or phone, which stays encrypted in ``screening``: the address
    here is only a keyed fingerprint of it, so a new contact is a new, healthy channel).
    """

    class Kind(models.TextChoices):
        EMAIL = "email"
        SMS = "sms"
        WEBHOOK = "webhook"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="alert_channels",
        null=True,
        blank=True,
    )
    subject = models.ForeignKey(
        "screening.Subject",
        on_delete=models.PROTECT,
        related_name="reminder_channels",
        null=True,
        blank=True,
        help_text="Set for a subject's reminder channel (then user is empty).",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    address = models.CharField(max_length=500)
    signing_secret = models.CharField(
        max_length=128, blank=True, help_text="HMAC key of webhook deliveries."
    )
    active = models.BooleanField(default=True)
    implicit = models.BooleanField(
        default=False,
        help_text="The user's own email address, used only while they configure no other channel.",
    )
    broken_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set after a recipient-specific permanent failure; skipped until re-enabled.",
    )
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["user", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "address"], name="channel_unique_address"
            ),
            models.UniqueConstraint(
                fields=["subject", "kind", "address"],
                condition=Q(subject__isnull=False),
                name="channel_unique_subject_address",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False, subject__isnull=True)
                | Q(user__isnull=True, subject__isnull=False),
                name="channel_of_a_user_or_a_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} channel {self.id}"


class Alert(models.Model):
    """What a clinician handles: one open alert per subject and category."""

    class Category(models.TextChoices):
        DISCONTINUATION = "discontinuation"
        DOSE_REVIEW = "dose_review"
        TDM_NEEDED = "tdm_needed"
        CLINICAL_REVIEW = "clinical_review"

    class Severity(models.TextChoices):
        URGENT = "urgent"
        HIGH = "high"
        ROUTINE = "routine"

    class Status(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    class Action(models.TextChoices):
        DOSE_REDUCED = "dose_reduced"
        DRUG_SUSPENDED = "drug_suspended"
        DRUG_STOPPED = "drug_stopped"
        REFERRED = "referred"
        NO_CHANGE = "no_change"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(
        "screening.Subject", on_delete=models.PROTECT, related_name="alerts"
    )
    site = models.ForeignKey(
        "screening.Site",
        on_delete=models.PROTECT,
        related_name="alerts",
        editable=False,
        db_index=False,  # alert_site_created_idx starts with it
        help_text="The subject's site (a subject never moves), copied so that a site's alert "
        "list reads one index range whatever the number of other sites' alerts.",
    )
    category = models.CharField(max_length=24, choices=Category.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    rules = models.JSONField(default=list)
    reasons = models.JSONField(default=list)
    recommended_actions = models.JSONField(default=list)
    inputs = models.JSONField(default=dict, help_text="Snapshot of the evaluation's inputs.")
    profile = models.ForeignKey(
        "screening.MonitoringProfile", on_delete=models.PROTECT, related_name="alerts"
    )
    evidence_responses = models.ManyToManyField(
        "screening.Response", blank=True, related_name="alerts"
    )
    evidence_cmax_results = models.ManyToManyField(
        "screening.CmaxResult", blank=True, related_name="alerts"
    )
    escalation_tier = models.PositiveSmallIntegerField(default=1)
    escalated_at = models.DateTimeField(null=True, blank=True)
    revision = models.PositiveIntegerField(
        default=0,
        help_text="Raised each time the alert worsens and its recipients are paged again.",
    )
    paged_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the current tier was last paged (the escalation clock).",
    )
    undeliverable_reported_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the admins were told that no delivery of this alert succeeded in time.",
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action_taken = models.CharField(max_length=16, choices=Action.choices, blank=True)
    resolution_note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "category"],
                condition=~Q(status="resolved"),
                name="alert_one_unresolved_per_category",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "severity", "created_at"]),
            # The alert list: a site's alerts newest first (cursor pagination on created_at).
            models.Index(fields=["site", "-created_at"], name="alert_site_created_idx"),
            models.Index(fields=["-created_at"], name="alert_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.category} alert {self.id} ({self.status})"

    def save(self, *args, **kwargs):
        if self.site_id is None and self.subject_id is not None:
            self.site_id = self.subject.site_id
        super().save(*args, **kwargs)


class Delivery(models.Model):
    """One message to one recipient on one channel, sent at most once per claim.

    The message is an alert (to staff), a subject reminder, or a notice that a channel broke (to
    its owner and the admins): all go through the same claim, lease, retry and transports.
    """

    class Purpose(models.TextChoices):
        ALERT = "alert"
        REMINDER = "reminder"
        CHANNEL_BROKEN = "channel_broken"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"
        CANCELLED = "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.ALERT)
    alert = models.ForeignKey(
        Alert, on_delete=models.PROTECT, related_name="deliveries", null=True, blank=True
    )
    reminder = models.ForeignKey(
        "SubjectReminder",
        on_delete=models.PROTECT,
        related_name="deliveries",
        null=True,
        blank=True,
    )
    about_channel = models.ForeignKey(
        Channel,
        on_delete=models.PROTECT,
        related_name="notices",
        null=True,
        blank=True,
        help_text="The channel that broke (channel_broken notices only).",
    )
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="deliveries")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        help_text="The staff user; empty for a reminder to a subject.",
    )
    tier = models.PositiveSmallIntegerField(default=1)
    revision = models.PositiveIntegerField(default=0, help_text="The alert revision it pages for.")
    note = models.TextField(blank=True, help_text="Why this message: what changed, or a fallback.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    failed_over_at = models.DateTimeField(
        null=True, blank=True, help_text="When the recipient's other channels were tried too."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "channel", "revision"], name="delivery_unique_channel_revision"
            ),
            models.UniqueConstraint(
                fields=["reminder", "channel"], name="delivery_unique_reminder_channel"
            ),
            models.CheckConstraint(
                condition=Q(purpose="alert", alert__isnull=False)
                | Q(purpose="reminder", reminder__isnull=False)
                | Q(purpose="channel_broken", about_channel__isnull=False),
                name="delivery_has_its_message",
            ),
        ]
        indexes = [models.Index(fields=["status", "claimed_at"])]

    def __str__(self) -> str:
        return f"delivery {self.id} ({self.status})"


class SubjectReminder(models.Model):
    """A reminder to a subject that an assessment is open, sent once at its offset.

    ``pending`` until due; ``sending`` once its delivery is planned (the ``Delivery`` rows carry
    the claim, lease and retries); ``sent``, ``failed`` or ``skipped`` once they settle.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        SKIPPED = "skipped"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    assessment = models.ForeignKey(
        "screening.Assessment", on_delete=models.PROTECT, related_name="reminders"
    )
    offset_hours = models.PositiveIntegerField()
    due_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "offset_hours"], name="reminder_unique_offset"
            ),
        ]
        indexes = [models.Index(fields=["status", "due_at"])]

    def __str__(self) -> str:
        return f"reminder {self.id} ({self.status})"


class ExportJob(models.Model):
    """A long export run by a worker: its progress to poll and, when done, its files.

    The row is the truth (house style): the task is only a trigger, and beat's sweep sends it
    again for a job still queued (a broker outage), or one whose worker died mid-run.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    class Format(models.TextChoices):
        CSV = "csv"
        NDJSON = "ndjson"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    dataset = models.CharField(max_length=32, help_text="A dataset name, or `fhir` (Bulk Data).")
    format = models.CharField(max_length=8, choices=Format.choices, default=Format.CSV)
    parameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_written = models.PositiveIntegerField(default=0)
    files = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"name", "type", "rows"}] under VAR_DIR/exports/<id>/.',
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"export {self.dataset} {self.id} ({self.status})"

    @property
    def progress(self) -> int:
        """Percent done (0-100): rows written of the rows counted at the start."""
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_written * 100 // self.rows_total)
