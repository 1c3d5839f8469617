"""Sites, their staff, subjects and their regimens."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.timezone import now

from .. import crypto


class Site(models.Model):
    """A clinic or study site; its time zone and crisis message apply to its subjects."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, help_text="IANA time zone, e.g. Africa/Johannesburg")
    crisis_message = models.TextField(
        blank=True, help_text="Support and crisis contacts shown to a subject after PHQ-9 item 9."
    )
    inform_coordinators = models.BooleanField(
        default=False,
        help_text="Also send alerts to the site's coordinators (never instead of its clinicians).",
    )
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class SiteMembership(models.Model):
    """A staff user's role at a site and their tier in the alert escalation."""

    class Role(models.TextChoices):
        CLINICIAN = "clinician"
        COORDINATOR = "coordinator"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="site_memberships"
    )
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CLINICIAN)
    escalation_tier = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["site", "escalation_tier"]
        constraints = [
            models.UniqueConstraint(fields=["user", "site"], name="membership_unique_user_site"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.role} at {self.site_id}"


class Subject(models.Model):
    """An enrolled patient. Contact details are stored encrypted (see screening.crypto)."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        WITHDRAWN = "withdrawn"

    class Sex(models.TextChoices):
        FEMALE = "female"
        MALE = "male"
        OTHER = "other"
        UNKNOWN = "unknown"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="subjects")
    study_id = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    timezone = models.CharField(max_length=64)
    language = models.CharField(max_length=16, default="en")
    treatment_start = models.DateField()
    schedule = models.ForeignKey(
        "screening.Schedule",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="subjects",
    )
    sex = models.CharField(max_length=8, choices=Sex.choices, blank=True)
    year_of_birth = models.PositiveSmallIntegerField(null=True, blank=True)
    hiv_positive = models.BooleanField(null=True, blank=True)
    renal_impairment = models.BooleanField(null=True, blank=True)
    contact_email_encrypted = models.TextField(blank=True, editable=False)
    contact_phone_encrypted = models.TextField(blank=True, editable=False)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["site", "study_id"]
        constraints = [
            models.UniqueConstraint(fields=["site", "study_id"], name="subject_unique_study_id"),
        ]

    def __str__(self) -> str:
        return f"{self.site_id}:{self.study_id}"

    # Contact details are read and written in clear only through these properties.
    @property
    def contact_email(self) -> str:
        return crypto.decrypt(self.contact_email_encrypted)

    @contact_email.setter
    def contact_email(self, value: str | None) -> None:
        self.contact_email_encrypted = crypto.encrypt(value or "")

    @property
    def contact_phone(self) -> str:
        return crypto.decrypt(self.contact_phone_encrypted)

    @contact_phone.setter
    def contact_phone(self, value: str | None) -> None:
        self.contact_phone_encrypted = crypto.encrypt(value or "")

    @property
    def has_contact_email(self) -> bool:
        return bool(self.contact_email_encrypted)

    @property
    def has_contact_phone(self) -> bool:
        return bool(self.contact_phone_encrypted)


class RegimenChange(models.Model):
    """A change of regimen; the regimen at any time is the latest change effective before it."""

    class Drug(models.TextChoices):
        CYCLOSERINE = "cycloserine"
        TERIZIDONE = "terizidone"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="regimen_changes")
    effective_from = models.DateTimeField()
    drug = models.CharField(max_length=16, choices=Drug.choices, default=Drug.CYCLOSERINE)
    dose_mg_per_day = models.PositiveIntegerField()
    pyridoxine_mg_per_day = models.PositiveIntegerField(null=True, blank=True)
    isoniazid = models.BooleanField(default=False)
    ethionamide = models.BooleanField(default=False)
    alcohol_use = models.BooleanField(default=False)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["subject", "-effective_from"]
        indexes = [models.Index(fields=["subject", "effective_from"])]

    def __str__(self) -> str:
        return f"{self.drug} {self.dose_mg_per_day} mg/day from {self.effective_from:%Y-%m-%d}"
