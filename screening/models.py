"""Who is screened and what they answered."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from .tokens import generate_token, hash_secret


class AccessTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class AccessToken(models.Model):
    """A bearer token of a staff user; only its SHA-256 hash is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = AccessTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"token {self.id} of {self.user_id}"

    @classmethod
    def issue(cls, *, user) -> tuple["AccessToken", str]:
        """Create a token for a user; return it with the clear key (shown once)."""
        key = generate_token()
        return cls.objects.create(user=user, key_hash=hash_secret(key)), key

    def revoke(self) -> None:
        """Make the token unusable from now on."""
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])
