"""Write the audit trail."""

import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.db import models

from .models import AuditEvent, Subject


def record_audit(
    *,
    action: str,
    obj: models.Model,
    actor=None,
    actor_subject: Subject | None = None,
    subject: Subject | None = None,
    changes: dict | None = None,
    reason: str = "",
    site=None,
) -> AuditEvent:
    """Record who did what to which object, and why. Call inside the changing transaction.

    ``site``: the site a change concerns (defaults to the subject's), so a site's staff can read
    changes of memberships and tiers next to their subjects' (``GET /subjects/{id}/audit/``).
    """
    if site is None and subject is not None:
        site = subject.site_id
    return AuditEvent.objects.create(
        site_id=getattr(site, "pk", site),
        action=action,
        object_type=obj._meta.label,
        object_id=str(obj.pk),
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_subject=actor_subject,
        subject=subject,
        changes=changes or {},
        reason=reason,
    )


def audit_value(value: Any) -> Any:
    """Return a JSON-ready form of a field value for the audit trail (dates, times, pk)."""
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    if hasattr(value, "pk"):
        return str(value.pk)
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    return value
