"""The audit trail: every create, change and delete of clinical data, with who, when and why."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    """One recorded change. Rows are only ever inserted."""

    class Action(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        DELETE = "delete"
        ACKNOWLEDGE = "acknowledge"
        RESOLVE = "resolve"
        WITHDRAW = "withdraw"
        ESCALATE = "escalate"
        EXPORT = "export"

    at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_subject = models.ForeignKey(
        "screening.Subject", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, db_index=True)
    subject = models.ForeignKey(
        "screening.Subject",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
        help_text="The subject the change concerns, if any.",
    )
    changes = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type} {self.object_id}"
