"""Escalate urgent alerts that nobody acknowledged in time to the next tier of recipients."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from notifications.delivery import plan_deliveries
from screening.audit import record_audit
from screening.models import SiteMembership

from .models import Alert

logger = logging.getLogger(__name__)

# The sweep runs every minute; an alert at its site's last tier is reported by the first sweep
# after its deadline only, not on every tick.
REPORT_WINDOW = timedelta(seconds=60)  # the beat interval of the sweep


def escalate_alerts(*, now: datetime | None = None) -> list[str]:
    """Escalate each overdue open urgent alert once; return the ids of those escalated.

    Idempotent: the tier moves by a conditional UPDATE on the tier it was read at, so two sweeps
    running together escalate an alert once. Deliveries of the new tier are planned and the
    escalation is audited in the same transaction.
    """
    now = now or timezone.now()
    candidates = (
        Alert.objects.filter(status=Alert.Status.OPEN, severity=Alert.Severity.URGENT)
        .select_related("profile", "subject")
        .order_by("created_at")
    )
    escalated = []
    for alert in candidates:
        since = alert.escalated_at or alert.created_at
        deadline = since + timedelta(minutes=alert.profile.escalation_minutes)
        if deadline > now:
            continue
        next_tier = (
            SiteMembership.objects.filter(
                site_id=alert.subject.site_id,
                escalation_tier__gt=alert.escalation_tier,
                user__is_active=True,
            )
            .order_by("escalation_tier")
            .values_list("escalation_tier", flat=True)
            .first()
        )
        if next_tier is None:
            if now - deadline < REPORT_WINDOW:
                logger.error(
                    "urgent alert not acknowledged and no further tier to escalate to",
                    extra={"alert_id": str(alert.pk), "tier": alert.escalation_tier},
                )
            continue
        if escalate_alert(alert=alert, to_tier=next_tier, now=now):
            escalated.append(str(alert.pk))
    return escalated


@transaction.atomic
def escalate_alert(*, alert: Alert, to_tier: int, now: datetime) -> bool:
    """Move an open alert from its current tier to ``to_tier`` unless someone already did."""
    from_tier = alert.escalation_tier
    moved = Alert.objects.filter(
        id=alert.pk, status=Alert.Status.OPEN, escalation_tier=from_tier
    ).update(escalation_tier=to_tier, escalated_at=now)
    if not moved:
        return False
    alert.escalation_tier, alert.escalated_at = to_tier, now
    record_audit(
        action="escalate",
        obj=alert,
        subject=alert.subject,
        changes={"escalation_tier": [from_tier, to_tier]},
        reason=(f"urgent alert not acknowledged within {alert.profile.escalation_minutes} minutes"),
    )
    plan_deliveries(alert=alert, tier=to_tier)
    logger.warning(
        "urgent alert escalated",
        extra={"alert_id": str(alert.pk), "from_tier": from_tier, "to_tier": to_tier},
    )
    return True
