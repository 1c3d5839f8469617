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
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import (
    Case,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from notifications.models import Alert, Delivery, WorkerHeartbeat
from notifications.recipients import fallback_recipients

logger = logging.getLogger(__name__)

IN_FLIGHT = (Delivery.Status.PENDING, Delivery.Status.SENDING)


def with_delivery_state(alerts: QuerySet[Alert]) -> QuerySet[Any]:
    """Annotate alerts with ``was_sent``, ``in_flight`` and ``delivery_deadline``."""
    # (QuerySet[Any]: mypy's Django plugin does not carry the annotations out of this function)
    deliveries = Delivery.objects.filter(alert=OuterRef("pk"))
    minutes = Case(
        When(severity=Alert.Severity.URGENT, then=F("profile__escalation_minutes")),
        default=F("profile__high_escalation_minutes"),
    )
    deadline = ExpressionWrapper(
        Coalesce("paged_at", "escalated_at", "created_at") + minutes * timedelta(minutes=1),
        output_field=DateTimeField(),
    )
    return alerts.annotate(
        was_sent=Exists(deliveries.filter(status=Delivery.Status.SENT)),
        in_flight=Exists(deliveries.filter(status__in=IN_FLIGHT)),
        delivery_deadline=deadline,
    )


def undeliverable_alerts(*, now: datetime | None = None) -> QuerySet[Alert]:
    """Return the unresolved alerts that no delivery reached in time, oldest first."""
    now = now or timezone.now()
    return (
        with_delivery_state(Alert.objects.exclude(status=Alert.Status.RESOLVED))
        .filter(was_sent=False)
        .filter(Q(in_flight=False) | Q(delivery_deadline__lte=now))
        .order_by("created_at")
    )


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
    alerts = with_delivery_state(
        Alert.objects.exclude(status=Alert.Status.RESOLVED).select_related("subject__site")
    ).order_by("created_at")
    for alert in alerts:
        if alert.was_sent:
            result.delivered.append(alert)
        elif alert.in_flight and alert.delivery_deadline > now:
            result.in_flight.append(alert)
        elif alert.undeliverable_reported_at is not None:
            result.undeliverable_reported.append(alert)
        else:
            result.undeliverable_unreported.append(alert)
    return result


def delivery_health(*, now: datetime | None = None) -> dict:
    """Return the readiness summary of undeliverable alerts (count and oldest)."""
    stuck = undeliverable_alerts(now=now)
    oldest = stuck.values_list("created_at", flat=True).first()
    return {
        "undeliverable_alerts": stuck.count(),
        "oldest_undeliverable_at": oldest.isoformat() if oldest else None,
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
    for alert in undeliverable_alerts(now=now).filter(undeliverable_reported_at__isnull=True):
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
