"""Bearer tokens of staff and subjects, and one-time activation codes: stored as hashes only."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ..tokens import generate_token, hash_secret


class AccessTokenQuerySet(models.QuerySet):
    def active(self):
        """Tokens neither revoked nor expired."""
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        )


class AccessToken(models.Model):
    """A bearer token of a staff user or of a subject's phone; only its SHA-256 is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="access_tokens",
    )
    subject = models.ForeignKey(
        "screening.Subject",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="access_tokens",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Staff tokens expire; a subject's phone token does not."
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = AccessTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, subject__isnull=True)
                | Q(user__isnull=True, subject__isnull=False),
                name="access_token_has_one_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"token {self.id}"

    @classmethod
    def issue(cls, *, user=None, subject=None) -> tuple["AccessToken", str]:
        """Create a token for a user or a subject; return it with the clear key (shown once)."""
        key = generate_token()
        expires_at = None
        if user is not None:
            expires_at = timezone.now() + timedelta(hours=settings.STAFF_TOKEN_TTL_HOURS)
        token = cls.objects.create(
            user=user, subject=subject, key_hash=hash_secret(key), expires_at=expires_at
        )
        return token, key

    def revoke(self) -> None:
        """Make the token unusable from now on."""
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])


class ActivationCode(models.Model):
    """A one-time code a subject's phone exchanges for a token; only its hash is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(
        "screening.Subject", on_delete=models.CASCADE, related_name="activation_codes"
    )
    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"activation code {self.id}"
