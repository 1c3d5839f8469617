"""Subject reminders: one recorded row per assessment and offset, sent through the deliveries.

``screening`` never imports ``notifications``, so reminder rows are created here: the sweep
first gives every open assessment the reminders its schedule entry asks for (``due_at`` =
opens_at + offset, only offsets inside the window), then claims each due one with a conditional
UPDATE (pending -> sending) and, in the same transaction, plans its ``Delivery`` on the subject's
first usable channel (their contact email, else their phone by SMS; the other is the fallback).
From there a reminder is a delivery like an alert's: the same claim, lease, retry with backoff,
failover, transports, templates (``notifications/templates/notifications/reminder_*``) and
channel health. When its deliveries settle, the reminder says ``sent``, ``failed`` or ``skipped``.
Of reminders of one assessment due together only the latest is sent.

The message is generic on purpose: it names no instrument and no health information, because
an e-mail or a text message can be read by others.
"""

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from screening.models import Assessment
from screening.occurrences import reminder_times

from . import planning
from .models import Delivery, SubjectReminder

logger = logging.getLogger(__name__)

BATCH = 200


def create_due_reminders() -> int:
    """Give open assessments without reminder rows the rows their entry asks for."""
    assessments = (
        Assessment.objects.filter(status=Assessment.Status.OPEN, reminders__isnull=True)
        .exclude(schedule_entry__reminder_hours=[])
        .select_related("schedule_entry")
        .only("id", "opens_at", "closes_at", "schedule_entry__reminder_hours")[: BATCH * 5]
    )
    rows = [
        SubjectReminder(assessment=a, offset_hours=hours, due_at=due_at)
        for a in assessments
        for hours, due_at in reminder_times(
            a.opens_at, a.closes_at, a.schedule_entry.reminder_hours or []
        )
    ]
    SubjectReminder.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def skip_reason(reminder: SubjectReminder, *, now: datetime, check_contact: bool = True) -> str:
    """Return why a due reminder need not be sent ("" if it should be)."""
    assessment = reminder.assessment
    subject = assessment.subject
    if assessment.status != Assessment.Status.OPEN or assessment.closes_at <= now:
        return "not open"
    if subject.status != subject.Status.ACTIVE:
        return "withdrawn"
    if SubjectReminder.objects.filter(
        assessment_id=assessment.pk, offset_hours__gt=reminder.offset_hours, due_at__lte=now
    ).exists():
        # A later reminder of the same assessment is due too (the sweep was down, or the subject
        # was enrolled mid-window): that one is sent, so the subject gets one message, not two.
        return "superseded"
    if check_contact and not (subject.has_contact_email or subject.has_contact_phone):
        return "no contact address"
    return ""


@transaction.atomic
def plan_reminder(reminder_id, *, now: datetime | None = None) -> str | None:
    """Claim one due reminder and plan its delivery; return its status, or None if not claimed."""
    now = now or timezone.now()
    claimed = SubjectReminder.objects.filter(
        pk=reminder_id, status=SubjectReminder.Status.PENDING, due_at__lte=now
    ).update(status=SubjectReminder.Status.SENDING, claimed_at=now)
    if not claimed:
        return None  # planned already
    reminder = SubjectReminder.objects.select_related("assessment__subject").get(pk=reminder_id)
    reason = skip_reason(reminder, now=now)
    if not reason and not planning.plan_reminder(reminder):
        reason = "no usable contact"
    if reason:
        _set(reminder.pk, SubjectReminder.Status.SKIPPED, error=reason)
        return SubjectReminder.Status.SKIPPED
    return SubjectReminder.Status.SENDING


def _set(reminder_id, status: str, *, error: str = "", sent_at: datetime | None = None) -> bool:
    """Give a planned reminder its outcome; return whether it was still waiting for one.

    A reminder said ``failed`` becomes ``sent`` when a fallback planned after that failure
    gets through.
    """
    waiting = [SubjectReminder.Status.SENDING]
    if status == SubjectReminder.Status.SENT:
        waiting.append(SubjectReminder.Status.FAILED)
    return bool(
        SubjectReminder.objects.filter(pk=reminder_id, status__in=waiting).update(
            status=status, last_error=error, sent_at=sent_at
        )
    )


def settle(reminder_id) -> None:
    """Give a planned reminder the outcome of its deliveries, once one was sent or all ended.

    ``sent`` if any delivery was sent; ``failed`` if all ended and one failed; ``skipped`` if all
    were cancelled (the assessment closed or was answered before sending, say).
    """
    rows = list(
        Delivery.objects.filter(reminder_id=reminder_id).values_list(
            "status", "last_error", "sent_at"
        )
    )
    sent = [
        sent_at
        for status, _, sent_at in rows
        if status == Delivery.Status.SENT and sent_at is not None
    ]
    if sent:
        if _set(reminder_id, SubjectReminder.Status.SENT, sent_at=min(sent)):
            logger.info("reminder sent", extra={"reminder_id": str(reminder_id)})
        return
    if not rows or any(
        status in (Delivery.Status.PENDING, Delivery.Status.SENDING) for status, _, _ in rows
    ):
        return
    failed = [error for status, error, _ in rows if status == Delivery.Status.FAILED]
    if failed:
        if _set(reminder_id, SubjectReminder.Status.FAILED, error=failed[-1]):
            logger.warning(
                "reminder not sent on any channel", extra={"reminder_id": str(reminder_id)}
            )
    else:
        _set(reminder_id, SubjectReminder.Status.SKIPPED, error=rows[-1][1])


def send_due_reminders(*, now: datetime | None = None) -> dict[str, int]:
    """Create missing reminder rows and plan the delivery of every due reminder once.

    Returns how many reminders were planned (``sending``) and skipped. Idempotent.
    """
    now = now or timezone.now()
    create_due_reminders()
    due = list(
        SubjectReminder.objects.filter(status=SubjectReminder.Status.PENDING, due_at__lte=now)
        .order_by("due_at")
        .values_list("pk", flat=True)[:BATCH]
    )
    outcome: dict[str, int] = {}
    for reminder_id in due:
        status = plan_reminder(reminder_id, now=now)
        if status:
            outcome[status] = outcome.get(status, 0) + 1
    return outcome
