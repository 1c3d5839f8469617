"""Planning deliveries: which rows to write for a message, and sending their tasks after commit.

A message is an alert (to the clinicians of a tier, or the fallback recipients), a subject
reminder (on the subject's first usable contact), or a notice that a channel broke (to its owner
and the admins). Each becomes one ``Delivery`` row per recipient channel, written before anything is
sent (unique per message and channel, so re-planning creates no duplicate); the task of each
pending row is sent after commit through ``config.tasks``. ``notifications.delivery`` sends them.
"""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from config import tasks
from notifications.models import Alert, Channel, Delivery, SubjectReminder
from notifications.recipients import (
    alert_recipients,
    email_channel,
    reenable_channel,
    subject_channels,
    usable_channels,
)

logger = logging.getLogger(__name__)

DELIVER_TASK = "notifications.deliver"


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
    return create_and_send(rows)


def plan_reminder(reminder: SubjectReminder) -> list[Delivery]:
    """Create the delivery of a reminder on the subject's first usable channel (email, else SMS).

    The other channel is its fallback. Returns the rows (none when the subject has no usable
    contact). The caller holds the transaction that claimed the reminder.
    """
    channels = subject_channels(reminder.assessment.subject)
    if not channels:
        return []
    return create_and_send(
        [Delivery(purpose=Delivery.Purpose.REMINDER, reminder=reminder, channel=channels[0])]
    )


def notify_channel_broken(channel: Channel) -> list[Delivery]:
    """Tell the owner of a broken channel (on their other channels) and the admins (by email)."""
    User = get_user_model()
    rows: list[Delivery] = []
    owner = channel.user
    if owner is not None and owner.is_active:
        rows += [
            Delivery(
                purpose=Delivery.Purpose.CHANNEL_BROKEN,
                about_channel=channel,
                channel=other,
                recipient=owner,
            )
            for other in usable_channels(owner, exclude=channel.pk)
        ]
    told = {row.recipient_id for row in rows if row.recipient_id is not None}
    admins = (
        User.objects.filter(Q(is_staff=True) | Q(is_superuser=True), is_active=True)
        .exclude(pk__in=told)
        .order_by("pk")
    )
    for admin in admins:
        admin_channel = email_channel(admin, exclude=channel.pk)
        if admin_channel is not None:
            rows.append(
                Delivery(
                    purpose=Delivery.Purpose.CHANNEL_BROKEN,
                    about_channel=channel,
                    channel=admin_channel,
                    recipient=admin,
                )
            )
    if not rows:
        logger.error(
            "nobody can be told that a channel broke", extra={"channel_id": str(channel.pk)}
        )
        return []
    return create_and_send(rows)


def same_message(row: Delivery) -> Q:
    """Return a filter for the rows of the same message as ``row``."""
    if row.purpose == Delivery.Purpose.ALERT:
        return Q(alert_id=row.alert_id, revision=row.revision)
    if row.purpose == Delivery.Purpose.REMINDER:
        return Q(reminder_id=row.reminder_id)
    return Q(about_channel_id=row.about_channel_id, purpose=row.purpose)


def create_and_send(rows: list[Delivery]) -> list[Delivery]:
    """Insert the rows (ignoring those that exist) and send the task of each pending one."""
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    deliveries = list(
        Delivery.objects.filter(
            same_message(rows[0]), channel__in=[row.channel for row in rows]
        ).order_by("created_at", "id")
    )
    for delivery in deliveries:
        if delivery.status == Delivery.Status.PENDING:
            send_delivery_on_commit(delivery.pk)
    return deliveries


def send_delivery_on_commit(delivery_id) -> None:
    """Send the deliver task after the current transaction commits."""
    tasks.send_task_on_commit(DELIVER_TASK, delivery_id)


def send_delivery_task(delivery_id: str, countdown: float | None = None) -> None:
    """Send the deliver task now; if the broker is down, the sweep sends it later."""
    tasks.send_task(DELIVER_TASK, [str(delivery_id)], countdown=countdown)


def fall_back(failed: Delivery) -> list[Delivery]:
    """Plan the message on the recipient's other usable channels; log at ERROR if there are none."""
    recipient = failed.recipient
    if recipient is not None:
        candidates = (
            usable_channels(recipient, exclude=failed.channel_id) if recipient.is_active else []
        )
    else:
        subject = failed.channel.subject
        candidates = subject_channels(subject, exclude=failed.channel_id) if subject else []
    already = set(
        Delivery.objects.filter(same_message(failed), channel__in=candidates).values_list(
            "channel_id", flat=True
        )
    )
    rows = [
        Delivery(
            purpose=failed.purpose,
            alert_id=failed.alert_id,
            reminder_id=failed.reminder_id,
            about_channel_id=failed.about_channel_id,
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
        if candidates:
            return []  # planned there already
        logger.error(
            "message not delivered to a recipient: no other usable channel",
            extra={
                "purpose": failed.purpose,
                "alert_id": str(failed.alert_id),
                "delivery_id": str(failed.id),
                "user_id": recipient.pk if recipient else None,
            },
        )
        return []
    return create_and_send(rows)


def enable_channel(*, channel: Channel, actor) -> int:
    """Re-enable a broken or inactive channel; send again what failed on it for open alerts.

    Returns how many deliveries are sent again. Audited.
    """
    with transaction.atomic():
        reenable_channel(channel=channel, actor=actor)
        return resend_failed_on(channel)


@transaction.atomic
def resend_failed_on(channel: Channel) -> int:
    """Send again what failed on a channel for alerts still open (not resolved); return how many.

    Called when the channel is re-enabled: the failed rows go back to pending with a fresh count.
    """
    ids = list(
        Delivery.objects.filter(
            channel=channel,
            purpose=Delivery.Purpose.ALERT,
            status=Delivery.Status.FAILED,
        )
        .exclude(alert__status=Alert.Status.RESOLVED)
        .values_list("id", flat=True)
    )
    Delivery.objects.filter(id__in=ids).update(
        status=Delivery.Status.PENDING,
        attempts=0,
        next_attempt_at=None,
        failed_over_at=None,
        last_error="",
    )
    for delivery_id in ids:
        send_delivery_on_commit(delivery_id)
    return len(ids)
