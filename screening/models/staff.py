"""What the API knows of a staff user beyond django.contrib.auth: an opaque id and a phone."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField


class StaffProfile(models.Model):
    """One per staff user: the UUID the API shows instead of the sequential user pk."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    phone = PhoneNumberField(blank=True, help_text="Stored in E.164, e.g. +27821234567.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return self.user.username
