"""Is every open alert reaching someone? Undeliverable alerts are a health failure.

An unresolved alert is, at any instant, exactly one of:
- ``delivered``: at least one of its deliveries was sent;
- ``in_flight``: none sent yet, some pending or sending, and its delivery deadline not passed;
- ``undeliverable``: none sent, and either nothing left that could still succeed (no recipient,
  every channel failed) or its deadline passed. The deadline is its escalation time (urgent:
  the profile's ``escalation_minutes``, otherwise ``high_escalation_minutes``) after the current
  tier was paged, so an alert nobody can receive is reported within its escalation time.

Undeliverable alerts make ``/readyz`` report ``degraded`` (count and oldest), are listed by the
admin's "delivery" filter, and are reported once to the admins by email (the minute sweep,
``report_undeliverable``); ``manage.py check_alerts`` prints the reconciliation and exits
non-zero while any undeliverable alert has not been reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from notifications.models import Alert, Delivery, WorkerHeartbeat
from notifications.recipients import fallback_recipients

logger = logging.getLogger(__name__)

IN_FLIGHT = (Delivery.Status.PENDING, Delivery.Status.SENDING)


def unresolved_with_states() -> tuple[list[Alert], set, set]:
    """Return the unresolved alerts, oldest first, and the ids of those sent and in flight."""
    alerts = list(
        Alert.objects.exclude(status=Alert.Status.RESOLVED)
        .select_related("profile", "subject__site")
        .order_by("created_at")
    )
    deliveries = Delivery.objects.filter(alert__in=[alert.pk for alert in alerts])
    sent = set(deliveries.filter(status=Delivery.Status.SENT).values_list("alert_id", flat=True))
    in_flight = set(deliveries.filter(status__in=IN_FLIGHT).values_list("alert_id", flat=True))
    return alerts, sent, in_flight


def delivery_deadline(alert: Alert) -> datetime:
    """Return when an alert must have reached someone: its escalation time after paging."""
    minutes = (
        alert.profile.escalation_minutes
        if alert.severity == Alert.Severity.URGENT
        else alert.profile.high_escalation_minutes
    )
    return (alert.paged_at or alert.escalated_at or alert.created_at) + timedelta(minutes=minutes)


def undeliverable_alerts(*, now: datetime | None = None) -> list[Alert]:
    """Return the unresolved alerts that no delivery reached in time, oldest first.

    Three queries; the deadline is computed here, the same on PostgreSQL and SQLite.
    """
    now = now or timezone.now()
    alerts, sent, in_flight = unresolved_with_states()
    return [
        alert
        for alert in alerts
        if alert.pk not in sent and (alert.pk not in in_flight or delivery_deadline(alert) <= now)
    ]


@dataclass
class Reconciliation:
    """Every unresolved alert, by delivery state."""

    delivered: list[Alert] = field(default_factory=list)
    in_flight: list[Alert] = field(default_factory=list)
    undeliverable_reported: list[Alert] = field(default_factory=list)
    undeliverable_unreported: list[Alert] = field(default_factory=list)

    @property
    def accounted_for(self) -> bool:
        """Every open alert is delivered, on its way in time, or reported undeliverable."""
        return not self.undeliverable_unreported


def reconcile(*, now: datetime | None = None) -> Reconciliation:
    """Sort every unresolved alert into its delivery state."""
    now = now or timezone.now()
    result = Reconciliation()
    alerts, sent, in_flight = unresolved_with_states()
    for alert in alerts:
        if alert.pk in sent:
            result.delivered.append(alert)
        elif alert.pk in in_flight and delivery_deadline(alert) > now:
            result.in_flight.append(alert)
        elif alert.undeliverable_reported_at is not None:
            result.undeliverable_reported.append(alert)
        else:
            result.undeliverable_unreported.append(alert)
    return result


def delivery_health(*, now: datetime | None = None) -> dict:
    """Return the readiness summary of undeliverable alerts (count and oldest)."""
    stuck = undeliverable_alerts(now=now)
    return {
        "undeliverable_alerts": len(stuck),
        "oldest_undeliverable_at": stuck[0].created_at.isoformat() if stuck else None,
    }


def readiness_report() -> dict:
    """Return what notifications adds to ``/readyz`` (``config.health.add_readiness_report``).

    ``worker_seen_at``: when a Celery worker last ran beat's heartbeat task (information:
    readiness needs no worker; a time minutes old means no worker or no beat runs and alerts
    wait); the undeliverable alerts, which make the service ``degraded``.
    """
    heartbeat = WorkerHeartbeat.objects.filter(id=1).first()
    health = delivery_health()
    return {
        "worker_seen_at": heartbeat.seen_at.isoformat() if heartbeat else None,
        **health,
        "degraded": bool(health["undeliverable_alerts"]),
    }


def report_undeliverable(*, now: datetime | None = None) -> list[str]:
    """Email the admins once about each undeliverable alert; return the ids reported.

    The alert is claimed by a conditional UPDATE first (two sweeps report it once); if the mail
    cannot be sent the claim is released, and the next sweep tries again.
    """
    now = now or timezone.now()
    admins = [user.email for user in fallback_recipients() if user.email]
    reported = []
    for alert in undeliverable_alerts(now=now):
        if alert.undeliverable_reported_at is not None:
            continue
        claimed = Alert.objects.filter(pk=alert.pk, undeliverable_reported_at__isnull=True).update(
            undeliverable_reported_at=now
        )
        if not claimed:
            continue
        logger.error(
            "alert undeliverable: no delivery succeeded in time",
            extra={"alert_id": str(alert.pk), "severity": alert.severity},
        )
        if not admins:
            reported.append(str(alert.pk))  # logged at ERROR: nobody else to tell
            continue
        subject = alert.subject
        try:
            send_mail(
                f"[UNDELIVERED {alert.severity.upper()}] alert for {subject.study_id} "
                f"({subject.site.code}) reached no one",
                f"No delivery of the {alert.severity} {alert.category} alert {alert.pk} for "
                f"subject {subject.study_id} at site {subject.site.code} succeeded within its "
                "escalation time. Check the site's clinicians and their alert channels, and "
                "make sure a clinician acts on it now.\n\n"
                "This system supports clinical decisions; it never changes a dose itself.\n",
                settings.DEFAULT_FROM_EMAIL,
                admins,
            )
        except Exception as exc:  # the mail server is down too: release, try next minute
            Alert.objects.filter(pk=alert.pk).update(undeliverable_reported_at=None)
            logger.error(
                "undeliverable alert not reported: mail failed",
                extra={"alert_id": str(alert.pk), "error": type(exc).__name__},
            )
            continue
        reported.append(str(alert.pk))
    return reported
