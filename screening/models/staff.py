"""What the API knows of a staff user beyond django.contrib.auth: an opaque id and a phone.

The phone number is stored encrypted (``screening.crypto``, like subjects' contact details).
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from screening import crypto


class StaffProfile(models.Model):
    """One per staff user: the UUID the API shows instead of the sequential user pk."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    phone_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return self.user.username

    @property
    def phone(self) -> str:
        return crypto.decrypt(self.phone_encrypted)

    @phone.setter
    def phone(self, value: str | None) -> None:
        self.phone_encrypted = crypto.encrypt(value or "")
