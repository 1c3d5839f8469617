"""Subject reminders: one recorded row per assessment and offset, each sent at most once.

``screening`` never imports ``notifications``, so reminder rows are created here: the sweep
first gives every open assessment the reminders its schedule entry asks for (``due_at`` =
opens_at + offset, only offsets inside the window), then claims the due ones with a conditional
UPDATE (pending -> sending) so that two workers never send the same reminder, sends, and records
the outcome. Of reminders of one assessment due together only the latest is sent. Rows stuck in
"sending" past a lease (a worker died mid-send) go back to pending, or fail on their last attempt;
in that rare case a subject may get one reminder twice, never none.

The message is generic on purpose: it names no instrument and no health information, because
an e-mail can be read by others.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from screening import crypto
from screening.models import Assessment
from screening.occurrences import reminder_times

from .models import SubjectReminder

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
BATCH = 200
MAX_ATTEMPTS = 5
# A failed attempt is retried this long after it (from claimed_at): five attempts span 40 minutes
# rather than the five minutes of five sweeps, so a short mail-server outage loses no reminder.
RETRY_DELAY = timedelta(minutes=10)


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


def release_stuck_reminders(*, now: datetime | None = None) -> int:
    """Put reminders claimed longer than the lease ago back to pending, or fail them.

    A row that has used all its attempts is failed: back in pending, no sweep would take it again.
    """
    now = now or timezone.now()
    stuck = SubjectReminder.objects.filter(
        status=SubjectReminder.Status.SENDING, claimed_at__lt=now - LEASE
    )
    stuck.filter(attempts__gte=MAX_ATTEMPTS).update(
        status=SubjectReminder.Status.FAILED, last_error="no outcome after the maximum attempts"
    )
    return stuck.update(status=SubjectReminder.Status.PENDING)


def _finish(reminder_id, status: str, *, now: datetime, error: str = "") -> None:
    SubjectReminder.objects.filter(pk=reminder_id, status=SubjectReminder.Status.SENDING).update(
        status=status,
        last_error=error,
        sent_at=now if status == SubjectReminder.Status.SENT else None,
    )


def send_reminder(reminder_id, *, now: datetime | None = None) -> str | None:
    """Claim one due reminder and send it; return its final status, or None if not claimed."""
    now = now or timezone.now()
    claimed = SubjectReminder.objects.filter(
        pk=reminder_id, status=SubjectReminder.Status.PENDING, due_at__lte=now
    ).update(status=SubjectReminder.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return None  # sent already, or another worker holds it
    reminder = SubjectReminder.objects.select_related("assessment__subject").get(pk=reminder_id)
    assessment = reminder.assessment
    subject = assessment.subject
    log = {"reminder_id": str(reminder.pk), "study_id": subject.study_id}
    if assessment.status != Assessment.Status.OPEN or assessment.closes_at <= now:
        _finish(reminder.pk, SubjectReminder.Status.SKIPPED, now=now, error="not open")
        return SubjectReminder.Status.SKIPPED
    if subject.status != subject.Status.ACTIVE:
        _finish(reminder.pk, SubjectReminder.Status.SKIPPED, now=now, error="withdrawn")
        return SubjectReminder.Status.SKIPPED
    if SubjectReminder.objects.filter(
        assessment=assessment, offset_hours__gt=reminder.offset_hours, due_at__lte=now
    ).exists():
        # A later reminder of the same assessment is due too (the sweep was down, or the subject
        # was enrolled mid-window): that one is sent, so the subject gets one message, not two.
        _finish(reminder.pk, SubjectReminder.Status.SKIPPED, now=now, error="superseded")
        return SubjectReminder.Status.SKIPPED
    try:
        address = subject.contact_email
    except crypto.DecryptionError:
        logger.error("reminder contact cannot be decrypted", extra=log)
        _finish(reminder.pk, SubjectReminder.Status.FAILED, now=now, error="decryption failed")
        return SubjectReminder.Status.FAILED
    if not address:
        _finish(reminder.pk, SubjectReminder.Status.SKIPPED, now=now, error="no contact address")
        return SubjectReminder.Status.SKIPPED
    try:
        send_mail(
            subject="A questionnaire is waiting for you",
            message=reminder_text(assessment),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[address],
        )
    except Exception as exc:  # SMTP down or refused: retry on a later sweep, then give up
        error = type(exc).__name__
        final = reminder.attempts >= MAX_ATTEMPTS
        status = SubjectReminder.Status.FAILED if final else SubjectReminder.Status.PENDING
        _finish(reminder.pk, status, now=now, error=error)
        logger.warning("reminder not sent", extra={**log, "error": error, "final": final})
        return status
    _finish(reminder.pk, SubjectReminder.Status.SENT, now=now)
    logger.info("reminder sent", extra=log)
    return SubjectReminder.Status.SENT


def reminder_text(assessment: Assessment) -> str:
    """Return the reminder's text: when the window closes, in the subject's time zone."""
    from zoneinfo import ZoneInfo

    closes = assessment.closes_at.astimezone(ZoneInfo(assessment.subject.timezone))
    page = reverse("subject-home")
    link = f"{settings.PUBLIC_BASE_URL}{page}" if settings.PUBLIC_BASE_URL else page
    return (
        "You have a study questionnaire to complete. Please open the study page on your phone "
        f"and answer it before {closes:%Y-%m-%d %H:%M} ({assessment.subject.timezone}):\n"
        f"{link}\n"
    )


def send_due_reminders(*, now: datetime | None = None) -> dict[str, int]:
    """Create missing reminder rows, release stuck ones, and send every due reminder once."""
    now = now or timezone.now()
    create_due_reminders()
    release_stuck_reminders(now=now)
    due = list(
        SubjectReminder.objects.filter(
            Q(attempts=0) | Q(claimed_at__lte=now - RETRY_DELAY),
            status=SubjectReminder.Status.PENDING,
            due_at__lte=now,
            attempts__lt=MAX_ATTEMPTS,
        )
        .order_by("due_at")
        .values_list("pk", flat=True)[:BATCH]
    )
    outcome: dict[str, int] = {}
    for reminder_id in due:
        status = send_reminder(reminder_id, now=now)
        if status:
            outcome[status] = outcome.get(status, 0) + 1
        if status == SubjectReminder.Status.PENDING:
            # The mail server failed: the rest would each wait on it too (up to EMAIL_TIMEOUT),
            # holding a worker that alert tasks need. The next sweep tries again.
            break
    return outcome
