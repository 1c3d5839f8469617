"""Subject reminders: created for open assessments, sent once, skipped when pointless."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from notifications import reminders
from notifications.models import SubjectReminder
from screening.models import Assessment
from screening.services import enrolment
from tests.factories import ScheduleEntryFactory, ScheduleFactory, SiteFactory

pytestmark = pytest.mark.django_db

ENROLLED = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)  # 10:00 in Johannesburg; baseline opened 07:00


def enrol(email="p.secret@example.org"):
    site = SiteFactory()
    schedule = ScheduleFactory(site=site)
    ScheduleEntryFactory(
        schedule=schedule, repeat_every_days=None, until_day=None, reminder_hours=[24, 48]
    )
    with time_machine.travel(ENROLLED, tick=False):
        return enrolment.enrol_subject(
            site=site,
            study_id="R-1",
            treatment_start=date(2025, 3, 3),
            timezone_name="Africa/Johannesburg",
            schedule=schedule,
            contact_email=email,
        )


def test_reminders_sent_once_at_each_offset():
    enrol()
    opened = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)

    early = reminders.send_due_reminders(now=opened + timedelta(hours=23))
    first = reminders.send_due_reminders(now=opened + timedelta(hours=24, minutes=1))
    again = reminders.send_due_reminders(now=opened + timedelta(hours=24, minutes=2))
    second = reminders.send_due_reminders(now=opened + timedelta(hours=48, minutes=1))

    assert (early, first, again, second) == ({}, {"sent": 1}, {}, {"sent": 1})
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["p.secret@example.org"], "A questionnaire is waiting for you"),
        (["p.secret@example.org"], "A questionnaire is waiting for you"),
    ]
    assert "PHQ" not in mail.outbox[0].body
    assert "2025-03-06 09:00 (Africa/Johannesburg)" in mail.outbox[0].body
    assert sorted(SubjectReminder.objects.values_list("offset_hours", "status")) == [
        (24, "sent"),
        (48, "sent"),
    ]


def test_reminder_skipped_without_contact_or_once_answered():
    enrol(email="")
    opened = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)

    first = reminders.send_due_reminders(now=opened + timedelta(hours=25))
    Assessment.objects.update(status=Assessment.Status.COMPLETED)
    second = reminders.send_due_reminders(now=opened + timedelta(hours=49))

    assert (first, second) == ({"skipped": 1}, {"skipped": 1})
    assert mail.outbox == []
    assert sorted(SubjectReminder.objects.values_list("offset_hours", "status", "last_error")) == [
        (24, "skipped", "no contact address"),
        (48, "skipped", "not open"),
    ]


def test_reminder_claimed_elsewhere_is_not_sent_twice():
    enrol()
    now = datetime(2025, 3, 4, 7, 30, tzinfo=UTC)
    reminders.create_due_reminders()
    reminder = SubjectReminder.objects.get(offset_hours=24)
    SubjectReminder.objects.filter(pk=reminder.pk).update(status="sending", claimed_at=now)

    assert reminders.send_reminder(reminder.pk, now=now) is None
    assert reminders.send_due_reminders(now=now + timedelta(minutes=1)) == {}
    # Past the lease, a stuck row goes back to pending and is sent.
    assert reminders.send_due_reminders(now=now + timedelta(minutes=11)) == {"sent": 1}
    assert len(mail.outbox) == 1


def test_reminder_smtp_failure_retries_then_sends(monkeypatch):
    enrol()
    now = datetime(2025, 3, 4, 7, 30, tzinfo=UTC)

    def broken(**kwargs):
        raise ConnectionRefusedError

    monkeypatch.setattr(reminders, "send_mail", broken)
    failed = reminders.send_due_reminders(now=now)
    monkeypatch.undo()
    too_soon = reminders.send_due_reminders(now=now + timedelta(minutes=1))
    sent = reminders.send_due_reminders(now=now + reminders.RETRY_DELAY)

    assert (failed, too_soon, sent) == ({"pending": 1}, {}, {"sent": 1})
    reminder = SubjectReminder.objects.get(offset_hours=24)
    assert (reminder.status, reminder.attempts) == ("sent", 2)


def test_reminder_stuck_on_its_last_attempt_is_failed_not_left_pending():
    enrol()
    now = datetime(2025, 3, 4, 7, 30, tzinfo=UTC)
    reminders.create_due_reminders()
    SubjectReminder.objects.filter(offset_hours=24).update(
        status="sending", claimed_at=now, attempts=reminders.MAX_ATTEMPTS
    )

    assert reminders.send_due_reminders(now=now + timedelta(minutes=11)) == {}

    assert list(SubjectReminder.objects.values_list("offset_hours", "status", "last_error")) == [
        (24, "failed", "no outcome after the maximum attempts"),
        (48, "pending", ""),
    ]
    assert mail.outbox == []


def test_reminders_due_together_send_one_message():
    enrol()
    opened = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)

    # No sweep ran between the two offsets (say the worker was down for a day).
    outcome = reminders.send_due_reminders(now=opened + timedelta(hours=49))

    assert outcome == {"skipped": 1, "sent": 1}
    assert len(mail.outbox) == 1
    assert list(SubjectReminder.objects.values_list("offset_hours", "status", "last_error")) == [
        (24, "skipped", "superseded"),
        (48, "sent", ""),
    ]


def test_reminder_sweep_stops_at_the_first_mail_server_failure(monkeypatch):
    enrol()
    enrol(email="q.secret@example.org")
    now = datetime(2025, 3, 4, 7, 30, tzinfo=UTC)
    calls = []

    def unreachable(**kwargs):
        calls.append(kwargs["recipient_list"])
        raise TimeoutError

    monkeypatch.setattr(reminders, "send_mail", unreachable)
    failed = reminders.send_due_reminders(now=now)
    monkeypatch.undo()
    sent = reminders.send_due_reminders(now=now + reminders.RETRY_DELAY)

    assert (failed, len(calls), sent) == ({"pending": 1}, 1, {"sent": 2})
    assert sorted(m.to[0] for m in mail.outbox) == ["p.secret@example.org", "q.secret@example.org"]


def test_a_mail_server_outage_of_half_an_hour_loses_no_reminder(monkeypatch):
    enrol()
    now = datetime(2025, 3, 4, 7, 30, tzinfo=UTC)

    def unreachable(**kwargs):
        raise TimeoutError

    monkeypatch.setattr(reminders, "send_mail", unreachable)
    for minute in range(30):  # beat sends the sweep every minute
        reminders.send_due_reminders(now=now + timedelta(minutes=minute))
    monkeypatch.undo()
    sent = reminders.send_due_reminders(now=now + timedelta(minutes=30))

    assert sent == {"sent": 1}
    assert list(SubjectReminder.objects.values_list("offset_hours", "status", "attempts")) == [
        (24, "sent", 4),
        (48, "pending", 0),
    ]
