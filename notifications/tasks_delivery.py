"""Celery tasks of deliveries and escalation: thin triggers that take ids and call domain code."""

from celery import shared_task
from django.conf import settings

from . import delivery, escalation


@shared_task(
    name="notifications.deliver",
    autoretry_for=(delivery.DeliveryRetry,),
    retry_backoff=settings.DELIVERY_RETRY_BACKOFF_SECONDS,
    retry_backoff_max=delivery.MAX_BACKOFF_SECONDS,
    retry_jitter=False,
    max_retries=settings.DELIVERY_MAX_ATTEMPTS,
)
def deliver_task(delivery_id: str) -> None:
    """Send one delivery if nobody has; retried with backoff after a transient failure."""
    delivery.deliver(delivery_id)


@shared_task(name="notifications.sweep_deliveries")
def sweep_deliveries_task() -> None:
    """Release deliveries stuck past their lease and re-send the task of due pending ones."""
    delivery.sweep_deliveries()


@shared_task(name="notifications.escalate_alerts")
def escalate_alerts_task() -> None:
    """Escalate urgent alerts not acknowledged in time."""
    escalation.escalate_alerts()
