"""Escalate urgent and high alerts that no clinician acknowledged in time to the next tier.

The escalation clock starts when the current tier was paged (``Alert.paged_at``: creation,
escalation, or a worsening that paged again). Urgent alerts escalate after the profile's
``escalation_minutes`` (30 by default), high ones after ``high_escalation_minutes`` (240: within
a working shift). A coordinator's acknowledgement leaves the alert open, so it still escalates.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from notifications import recipients
from notifications.delivery import plan_deliveries
from screening.audit import record_audit

from .models import Alert

logger = logging.getLogger(__name__)

# The sweep runs every minute; an alert at its site's last tier is reported by the first sweep
# after its deadline only, not on every tick.
REPORT_WINDOW = timedelta(seconds=60)  # the beat interval of the sweep


def escalation_minutes(alert: Alert) -> int:
    """Return the minutes an alert of this severity waits for a clinician before escalating."""
    if alert.severity == Alert.Severity.URGENT:
        return alert.profile.escalation_minutes
    return alert.profile.high_escalation_minutes


def escalation_deadline(alert: Alert) -> datetime:
    """Return when the alert escalates unless a clinician acknowledges it."""
    since = alert.paged_at or alert.escalated_at or alert.created_at
    return since + timedelta(minutes=escalation_minutes(alert))


ESCALATING = (Alert.Severity.URGENT, Alert.Severity.HIGH)


def escalate_alerts(*, now: datetime | None = None) -> list[str]:
    """Escalate each overdue open urgent or high alert once; return the ids of those escalated.

    Idempotent: the tier moves by a conditional UPDATE on the tier it was read at, so two sweeps
    running together escalate an alert once. Deliveries of the new tier are planned and the
    escalation is audited in the same transaction.
    """
    now = now or timezone.now()
    candidates = (
        Alert.objects.filter(status=Alert.Status.OPEN, severity__in=ESCALATING)
        .select_related("profile", "subject")
        .order_by("created_at")
    )
    escalated = []
    for alert in candidates:
        deadline = escalation_deadline(alert)
        if deadline > now:
            continue
        next_tier = recipients.next_tier(alert.subject.site_id, after=alert.escalation_tier)
        if next_tier is None:
            if now - deadline < REPORT_WINDOW:
                logger.error(
                    "alert not acknowledged and no further tier to escalate to",
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
        reason=(
            f"{alert.severity} alert not acknowledged by a clinician within "
            f"{escalation_minutes(alert)} minutes"
        ),
    )
    plan_deliveries(alert=alert, tier=to_tier)
    logger.warning(
        "alert escalated",
        extra={"alert_id": str(alert.pk), "from_tier": from_tier, "to_tier": to_tier},
    )
    return True
