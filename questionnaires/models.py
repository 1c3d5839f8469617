"""Instrument versions as stored rows: loaded from the data files, never edited in place."""

import uuid

from django.db import models
from django.utils import timezone


class InstrumentVersion(models.Model):
    """One version of an instrument definition; responses point at the version they answered."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(max_length=32)
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=16)
    definition = models.JSONField()
    checksum = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="instrument_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"
