"""Whether they were told: sending, retrying, failing over and sweeping deliveries.

The row is the truth; a task is only a trigger. One ``Delivery`` row per message and channel is
written before anything is sent (``notifications.planning``), a task named
``notifications.deliver`` is sent after commit with the delivery id only, and the task claims the
row with a conditional UPDATE (pending and due -> sending), so a redelivered or doubled task sends
nothing. The messages are alerts (to staff), subject reminders, and notices that a channel broke.

One retry timer: the row's ``next_attempt_at``. A transient failure puts the row back to pending
with ``next_attempt_at`` = now + backoff (doubling from ``DELIVERY_RETRY_BACKOFF_SECONDS``, at most
10 minutes) and sends the task with that countdown as a trigger; the beat sweep re-sends the task
of every due pending row (the trigger was lost, or the broker was down), and puts rows stuck in
``sending`` past the lease back to pending (their worker died). Nothing else retries a delivery.

Channel health. Only a recipient-specific permanent failure (an SMTP 5.1.x refusal of that address
while the server accepts its postmaster, a webhook's 410 Gone) marks a channel broken; its owner
and the admins are told (``channel_broken`` notices). Everything else (server-wide refusals, 4xx,
5xx, timeouts) is retried; after ``DELIVERY_FAILOVER_ATTEMPTS`` attempts or
``DELIVERY_FAILOVER_SECONDS``, whichever comes first, the recipient's other channels are planned
too, while this one keeps retrying up to ``DELIVERY_MAX_ATTEMPTS``.

"Exactly once" here means at least once, and at most once per claim: a worker that dies after
the message left but before the row said ``sent`` leaves the row in ``sending``; the sweep sends it
again after the lease. Email carries the delivery id as Message-ID and ``X-Delivery-Id``, webhooks
carry it as ``Idempotency-Key``, so the receiving side can drop such a repeat.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from notifications import reminders
from notifications.models import Alert, Channel, Delivery
from notifications.planning import (
    DELIVER_TASK,
    fall_back,
    notify_channel_broken,
    plan_deliveries,
    resend_failed_on,
    send_delivery_on_commit,
    send_delivery_task,
)
from notifications.recipients import may_receive
from notifications.transports import TransportError, get_transport

logger = logging.getLogger(__name__)

# Planning lives in notifications.planning; these names are part of this module's interface.
__all__ = [
    "DELIVER_TASK",
    "backoff",
    "deliver",
    "fall_back",
    "plan_deliveries",
    "resend_failed_on",
    "send_delivery_on_commit",
    "send_delivery_task",
    "sweep_deliveries",
]


# Pending rows younger than this are left to the task sent at commit; the sweep takes the rest.
SWEEP_GRACE = timedelta(seconds=60)


SWEEP_BATCH = 500


MAX_BACKOFF_SECONDS = 600


ERROR_LENGTH = 500


def backoff(attempts: int) -> timedelta:
    """Return the delay before the next attempt: doubling from the base, at most 10 minutes."""
    base = settings.DELIVERY_RETRY_BACKOFF_SECONDS
    return timedelta(seconds=min(MAX_BACKOFF_SECONDS, base * 2 ** max(attempts - 1, 0)))


def deliver(delivery_id) -> str:
    """Send one due delivery unless someone has claimed it; record the outcome; return its status.

    After a transient failure the row is pending again with the time of its next attempt
    (returned status "pending"); the task of that attempt is sent with that countdown.
    """
    now = timezone.now()
    claimed = Delivery.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        id=delivery_id,
        status=Delivery.Status.PENDING,
    ).update(status=Delivery.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:  # sent already, failed, cancelled, not due, or another worker holds it
        return ""
    delivery = Delivery.objects.select_related(
        "alert__subject__site",
        "reminder__assessment__subject",
        "about_channel",
        "channel__subject",
        "recipient",
    ).get(id=delivery_id)
    channel = delivery.channel

    cancel_reason = _pointless(delivery, now)
    if cancel_reason:
        _finish(delivery, Delivery.Status.CANCELLED, error=cancel_reason)
        return Delivery.Status.CANCELLED
    if delivery.attempts > settings.DELIVERY_MAX_ATTEMPTS:
        # Claimed again and again without an outcome (its worker keeps dying): stop here.
        return _record_failure(
            delivery, TransportError("no outcome after the maximum attempts", permanent=False)
        )
    recipient_gone = delivery.recipient is not None and not delivery.recipient.is_active
    if not channel.active or channel.broken_at is not None or recipient_gone:
        # Disabled since planning: do not send there, and try the recipient's other channels.
        with transaction.atomic():
            _finish(
                delivery,
                Delivery.Status.FAILED,
                error="channel or recipient disabled",
                settle=False,
            )
            fall_back(delivery)
            _settle_reminder(delivery)
        return Delivery.Status.FAILED

    try:
        get_transport(channel.kind).send(delivery)
    except TransportError as exc:
        return _record_failure(delivery, exc)
    except Exception as exc:  # a bug or a surprise: retry rather than wait for the lease
        logger.exception(
            "delivery raised an unexpected error", extra={"delivery_id": str(delivery.id)}
        )
        return _record_failure(
            delivery, TransportError(f"unexpected {type(exc).__name__}", permanent=False)
        )

    # Marked sent even if the sweep reset it to pending meanwhile: it was sent, do not resend.
    Delivery.objects.filter(
        id=delivery.id, status__in=[Delivery.Status.SENDING, Delivery.Status.PENDING]
    ).update(status=Delivery.Status.SENT, sent_at=timezone.now(), last_error="")
    _settle_reminder(delivery)
    logger.info(
        "delivery sent",
        extra={
            "delivery_id": str(delivery.id),
            "purpose": delivery.purpose,
            "kind": channel.kind,
            "tier": delivery.tier,
        },
    )
    return Delivery.Status.SENT


def _pointless(delivery: Delivery, now: datetime) -> str:
    """Return why the message need not be sent any more ("" if it should be)."""
    if delivery.alert is not None:
        alert = delivery.alert
        if alert.status == Alert.Status.RESOLVED:
            return "alert resolved before sending"
        if not may_receive(delivery.recipient_id, alert.subject.site_id):
            # Left the site since planning: they may no longer see this subject's data.
            return "recipient left the site"
    if delivery.reminder is not None:
        if (
            Delivery.objects.filter(reminder_id=delivery.reminder_id, status=Delivery.Status.SENT)
            .exclude(id=delivery.id)
            .exists()
        ):
            # Its fallback got through: a subject gets one reminder, not one per channel.
            return "sent on another channel"
        return reminders.skip_reason(delivery.reminder, now=now, check_contact=False)
    return ""


def _finish(delivery: Delivery, status: str, *, error: str, settle: bool = True) -> None:
    """Record a final status of a claimed delivery (``settle=False``: a fallback follows)."""
    Delivery.objects.filter(id=delivery.id, status=Delivery.Status.SENDING).update(
        status=status, last_error=error[:ERROR_LENGTH]
    )
    if settle:
        _settle_reminder(delivery)


def _settle_reminder(delivery: Delivery) -> None:
    """Give a reminder the outcome of its deliveries once one was sent or all have ended."""
    if delivery.reminder_id is None:
        return
    reminders.settle(delivery.reminder_id)


def _should_fail_over(delivery: Delivery, now: datetime) -> bool:
    return delivery.failed_over_at is None and (
        delivery.attempts >= settings.DELIVERY_FAILOVER_ATTEMPTS
        or now - delivery.created_at >= timedelta(seconds=settings.DELIVERY_FAILOVER_SECONDS)
    )


def _record_failure(delivery: Delivery, exc: TransportError) -> str:
    """Retry a transient failure (failing over in time); a permanent one breaks the channel."""
    now = timezone.now()
    error = str(exc)[:ERROR_LENGTH]
    log_extra = {
        "delivery_id": str(delivery.id),
        "channel_id": str(delivery.channel_id),
        "attempts": delivery.attempts,
        "error": error,
    }
    if not exc.permanent and delivery.attempts < settings.DELIVERY_MAX_ATTEMPTS:
        delay = backoff(delivery.attempts)
        with transaction.atomic():
            Delivery.objects.filter(id=delivery.id, status=Delivery.Status.SENDING).update(
                status=Delivery.Status.PENDING, last_error=error, next_attempt_at=now + delay
            )
            Channel.objects.filter(id=delivery.channel_id).update(last_error=error)
            if _should_fail_over(delivery, now):
                Delivery.objects.filter(id=delivery.id).update(failed_over_at=now)
                logger.warning("delivery failing over to the other channels", extra=log_extra)
                fall_back(delivery)
        logger.warning("delivery failed; will retry", extra=log_extra)
        send_delivery_task(str(delivery.id), countdown=delay.total_seconds())
        return Delivery.Status.PENDING

    with transaction.atomic():
        _finish(delivery, Delivery.Status.FAILED, error=error, settle=False)
        Channel.objects.filter(id=delivery.channel_id).update(last_error=error)
        broke = False
        if exc.permanent:
            # Only a recipient-specific permanent refusal says the address is wrong; exhausted
            # transient attempts (an SMTP outage, say) never disable a channel.
            broke = bool(
                Channel.objects.filter(id=delivery.channel_id, broken_at__isnull=True).update(
                    broken_at=now
                )
            )
        logger.warning(
            "delivery failed for good" + ("; channel marked broken" if broke else ""),
            extra=log_extra,
        )
        if delivery.failed_over_at is None:
            fall_back(delivery)
        _settle_reminder(delivery)
        if broke and delivery.purpose != Delivery.Purpose.CHANNEL_BROKEN:
            delivery.channel.refresh_from_db()
            notify_channel_broken(delivery.channel)
    return Delivery.Status.FAILED


def sweep_deliveries(*, now: datetime | None = None) -> dict[str, int]:
    """Release rows stuck in sending past the lease; re-send the task of due pending rows.

    Idempotent: a doubled or missed run changes nothing but timing.
    """
    now = now or timezone.now()
    released = Delivery.objects.filter(
        status=Delivery.Status.SENDING,
        claimed_at__lt=now - timedelta(seconds=settings.DELIVERY_LEASE_SECONDS),
    ).update(status=Delivery.Status.PENDING, next_attempt_at=None)
    if released:
        logger.warning("deliveries released after their lease", extra={"count": released})
    due = list(
        Delivery.objects.filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
            status=Delivery.Status.PENDING,
            created_at__lt=now - SWEEP_GRACE,
        )
        .order_by("created_at")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    for delivery_id in due:
        send_delivery_task(str(delivery_id))
    return {"released": released, "sent": len(due)}
