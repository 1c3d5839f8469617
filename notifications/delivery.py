"""Who is told, on which channel, and whether they were: planning, sending and sweeping deliveries.

The row is the truth; a task is only a trigger. One ``Delivery`` row per alert and channel is
written before anything is sent (unique, so re-planning creates no duplicate), a task named
``notifications.deliver`` is sent after commit with the delivery id only, and the task claims the
row with a conditional UPDATE (pending -> sending), so a redelivered or doubled task sends nothing.
A beat sweep puts rows stuck in ``sending`` past the lease back to ``pending`` (their worker died)
and re-sends the task for due pending rows (the broker lost it, or was down at commit).

"Exactly once" here means at least once, and at most once per claim: a worker that dies after
the message left but before the row said ``sent`` leaves the row in ``sending``; the sweep sends it
again after the lease. Email carries the delivery id as Message-ID and ``X-Delivery-Id``, webhooks
carry it as ``Idempotency-Key``, so the receiving side can drop such a repeat.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Prefetch, Q
from django.utils import timezone

from config.celery_app import app
from notifications.models import Alert, Channel, Delivery
from notifications.recipients import alert_recipients, may_receive, usable_channels
from notifications.transports import TransportError, get_transport

logger = logging.getLogger(__name__)


DELIVER_TASK = "notifications.deliver"


# Pending rows younger than this are left to the task sent at commit; the sweep takes the rest.
SWEEP_GRACE = timedelta(seconds=60)


SWEEP_BATCH = 500


MAX_BACKOFF_SECONDS = 600


ERROR_LENGTH = 500


class DeliveryRetry(Exception):
    """A transient failure: the row is pending again and the task should retry later."""


@transaction.atomic
def plan_deliveries(*, alert: Alert, tier: int = 1, note: str = "") -> list[Delivery]:
    """Create the deliveries of an alert's current revision to the recipients of a tier.

    Recipients are the tier's active clinicians at the subject's site, or the fallback recipients
    when the site has none (``recipients.alert_recipients``). One row per recipient, channel and
    alert revision (existing rows are kept, never doubled); the deliver task of each pending row
    is sent after commit. ``note`` says why this message (what changed). Returns the deliveries.
    """
    users, fallback_note = alert_recipients(alert.subject.site, tier=tier)
    user_ids = [user.pk for user in users]
    members = (
        get_user_model()
        .objects.filter(pk__in=user_ids)
        .prefetch_related(Prefetch("alert_channels", queryset=Channel.objects.order_by("kind")))
        .order_by("pk")
    )
    text = " ".join(part for part in (note, fallback_note) if part)
    rows = [
        Delivery(
            alert=alert,
            channel=channel,
            recipient=user,
            tier=tier,
            revision=alert.revision,
            note=text,
        )
        for user in members
        for channel in usable_channels(user)
    ]
    Alert.objects.filter(pk=alert.pk).update(paged_at=timezone.now())
    if not rows:
        logger.error(
            "alert has no recipient at this tier",
            extra={"alert_id": str(alert.pk), "tier": tier},
        )
        return []
    return _create_and_send(alert, rows)


def _create_and_send(alert: Alert, rows: list[Delivery]) -> list[Delivery]:
    """Insert the rows (ignoring those that exist) and send the task of each pending one."""
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    deliveries = list(
        Delivery.objects.filter(
            alert=alert, revision=rows[0].revision, channel__in=[row.channel for row in rows]
        ).order_by("created_at", "id")
    )
    for delivery in deliveries:
        if delivery.status == Delivery.Status.PENDING:
            send_delivery_on_commit(delivery.pk)
    return deliveries


def send_delivery_on_commit(delivery_id) -> None:
    """Send the deliver task after the current transaction commits."""
    delivery_id = str(delivery_id)
    transaction.on_commit(lambda: send_delivery_task(delivery_id))


def send_delivery_task(delivery_id: str) -> None:
    """Send the deliver task by name; if the broker is down, the sweep sends it later."""
    try:
        app.send_task(DELIVER_TASK, args=[delivery_id])
    except Exception as exc:  # broker down: the row is pending and the sweep retries
        logger.warning(
            "delivery task not sent; the sweep will retry",
            extra={"delivery_id": delivery_id, "error": type(exc).__name__},
        )


def backoff(attempts: int) -> timedelta:
    """Return the delay before the next attempt: doubling from the base, at most 10 minutes."""
    base = settings.DELIVERY_RETRY_BACKOFF_SECONDS
    return timedelta(seconds=min(MAX_BACKOFF_SECONDS, base * 2 ** max(attempts - 1, 0)))


def deliver(delivery_id) -> str:
    """Send one delivery unless someone has claimed it; record the outcome; return its status.

    Raises DeliveryRetry after a transient failure (the row is pending again, with the time of the
    next attempt), so that the task retries with backoff.
    """
    now = timezone.now()
    claimed = Delivery.objects.filter(id=delivery_id, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:  # sent already, failed, cancelled, or another worker holds it
        return ""
    delivery = Delivery.objects.select_related("alert__subject__site", "channel", "recipient").get(
        id=delivery_id
    )
    channel = delivery.channel

    if delivery.alert.status == Alert.Status.RESOLVED:
        _finish(delivery, Delivery.Status.CANCELLED, error="alert resolved before sending")
        return Delivery.Status.CANCELLED
    if delivery.attempts > settings.DELIVERY_MAX_ATTEMPTS:
        # Claimed again and again without an outcome (its worker keeps dying): stop here.
        return _record_failure(
            delivery, TransportError("no outcome after the maximum attempts", permanent=False)
        )
    if not may_receive(delivery.recipient_id, delivery.alert.subject.site_id):
        # Left the site since planning: they may no longer see this subject's data.
        _finish(delivery, Delivery.Status.CANCELLED, error="recipient left the site")
        return Delivery.Status.CANCELLED
    if not channel.active or channel.broken_at is not None or not delivery.recipient.is_active:
        # Disabled since planning: do not send there, and try the recipient's other channels.
        with transaction.atomic():
            _finish(delivery, Delivery.Status.FAILED, error="channel or recipient disabled")
            fall_back(delivery)
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
    logger.info(
        "delivery sent",
        extra={"delivery_id": str(delivery.id), "kind": channel.kind, "tier": delivery.tier},
    )
    return Delivery.Status.SENT


def _finish(delivery: Delivery, status: str, *, error: str) -> None:
    """Record a final status of a claimed delivery."""
    Delivery.objects.filter(id=delivery.id, status=Delivery.Status.SENDING).update(
        status=status, last_error=error[:ERROR_LENGTH]
    )


def _record_failure(delivery: Delivery, exc: TransportError) -> str:
    """Retry a transient failure later; fail a permanent one and try the other channels."""
    error = str(exc)[:ERROR_LENGTH]
    log_extra = {
        "delivery_id": str(delivery.id),
        "channel_id": str(delivery.channel_id),
        "attempts": delivery.attempts,
        "error": error,
    }
    if not exc.permanent and delivery.attempts < settings.DELIVERY_MAX_ATTEMPTS:
        Delivery.objects.filter(id=delivery.id, status=Delivery.Status.SENDING).update(
            status=Delivery.Status.PENDING,
            last_error=error,
            next_attempt_at=timezone.now() + backoff(delivery.attempts),
        )
        logger.warning("delivery failed; will retry", extra=log_extra)
        raise DeliveryRetry(f"delivery {delivery.id}: {error}")

    with transaction.atomic():
        _finish(delivery, Delivery.Status.FAILED, error=error)
        channel = delivery.channel
        channel.last_error = error
        update_fields = ["last_error"]
        if exc.permanent:
            # Only a permanent refusal says the address is wrong. Exhausted transient attempts
            # (an SMTP outage, say) must not disable every channel for future alerts.
            channel.broken_at = timezone.now()
            update_fields.append("broken_at")
        channel.save(update_fields=update_fields)
        logger.warning(
            "delivery failed for good" + ("; channel marked broken" if exc.permanent else ""),
            extra=log_extra,
        )
        fall_back(delivery)
    return Delivery.Status.FAILED


def fall_back(failed: Delivery) -> list[Delivery]:
    """Plan the alert on the recipient's other usable channels; log at ERROR if there are none."""
    recipient = failed.recipient
    candidates = (
        usable_channels(recipient, exclude=failed.channel_id) if recipient.is_active else []
    )
    already = set(
        Delivery.objects.filter(
            alert_id=failed.alert_id, revision=failed.revision, channel__in=candidates
        ).values_list("channel_id", flat=True)
    )
    rows = [
        Delivery(
            alert=failed.alert,
            channel=channel,
            recipient=recipient,
            tier=failed.tier,
            revision=failed.revision,
            note=failed.note,
        )
        for channel in candidates
        if channel.pk not in already
    ]
    if not rows:
        logger.error(
            "alert not delivered to a recipient: no other usable channel",
            extra={
                "alert_id": str(failed.alert_id),
                "delivery_id": str(failed.id),
                "user_id": recipient.pk,
            },
        )
        return []
    return _create_and_send(failed.alert, rows)


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
