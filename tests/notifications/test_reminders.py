"""Subject reminders: created for open assessments, sent once through the deliveries, skipped
when pointless.

The sweep plans a ``Delivery`` per due reminder; ``run`` below then does what a worker does with
the tasks that the sweep and the retries send (deliver every due pending row), at the same clock.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.test import override_settings

from notifications import reminders
from notifications.delivery import deliver, sweep_deliveries
from notifications.models import Delivery, SubjectReminder
from screening.models import Assessment
from screening.services import enrolment
from tests.factories import ScheduleEntryFactory, ScheduleFactory, SiteFactory
from tests.support import free_port

SMTP = "django.core.mail.backends.smtp.EmailBackend"

pytestmark = pytest.mark.django_db

ENROLLED = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)  # 10:00 in Johannesburg; baseline opened 07:00


def enrol(email="p.secret@example.org", phone=""):
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
            contact_phone=phone,
        )


def run(now: datetime) -> dict[str, int]:
    """The beat sweep at ``now``, then the deliveries it (or an earlier retry) made due.

    Returns what happened: reminders skipped at planning, deliveries sent, retried ("pending"),
    failed or cancelled.
    """
    outcome: dict[str, int] = {}
    with time_machine.travel(now, tick=False):
        planned = reminders.send_due_reminders(now=now)
        if planned.get("skipped"):
            outcome["skipped"] = planned["skipped"]
        for delivery_id in Delivery.objects.filter(status="pending").values_list("id", flat=True):
            status = deliver(delivery_id)
            if status:
                outcome[status] = outcome.get(status, 0) + 1
    return outcome


def smtp_down():
    return override_settings(EMAIL_BACKEND=SMTP, EMAIL_HOST="127.0.0.1", EMAIL_PORT=free_port())


def test_reminders_sent_once_at_each_offset():
    enrol()
    opened = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)

    early = run(opened + timedelta(hours=23))
    first = run(opened + timedelta(hours=24, minutes=1))
    again = run(opened + timedelta(hours=24, minutes=2))
    second = run(opened + timedelta(hours=48, minutes=1))

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
    # One delivery per reminder, on the subject's email channel (its address is a fingerprint).
    assert list(Delivery.objects.values_list("purpose", "channel__kind", "status")) == [
        ("reminder", "email", "sent"),
        ("reminder", "email", "sent"),
    ]
    assert "p.secret" not in Delivery.objects.first().channel.address


def test_reminder_without_email_goes_by_sms():
    enrol(email="", phone="+27820000009")
    opened = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)

    assert run(opened + timedelta(hours=24, minutes=1)) == {"sent": 1}

    assert mail.outbox == []
    delivery = Delivery.objects.get()
    assert (delivery.channel.kind, delivery.recipient, delivery.status) == ("sms", None, "sent")
    assert SubjectReminder.objects.get(offset_hours=24).status == "sent"


def test_reminder_skipped_without_contact_or_once_answered():
    enrol(email="")
    opened = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)

    first = run(opened + timedelta(hours=25))
    Assessment.objects.update(status=Assessment.Status.COMPLETED)
    second = run(opened + timedelta(hours=49))

    assert (first, second) == ({"skipped": 1}, {"skipped": 1})
    assert mail.outbox == []
    assert sorted(SubjectReminder.objects.values_list("offset_hours", "status", "last_error")) == [
        (24, "skipped", "no contact address"),
        (48, "skipped", "not open"),
    ]


def test_reminder_answered_after_planning_is_cancelled_not_sent():
    enrol()
    now = datetime(2025, 3, 4, 7, 30, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        assert reminders.send_due_reminders(now=now) == {"sending": 1}
    Assessment.objects.update(status=Assessment.Status.COMPLETED)

    assert run(now + timedelta(seconds=5)) == {"cancelled": 1}

    assert mail.outbox == []
    reminder = SubjectReminder.objects.get(offset_hours=24)
    assert (reminder.status, reminder.last_error) == ("skipped", "not open")


def test_reminder_claimed_elsewhere_is_not_sent_twice():
    enrol()
    now = datetime(2025, 3, 4, 7, 30, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        reminders.send_due_reminders(now=now)
    delivery = Delivery.objects.get()
    # Another worker claimed the delivery (and died before recording the outcome).
    Delivery.objects.filter(pk=delivery.pk).update(status="sending", claimed_at=now, attempts=1)

    assert run(now + timedelta(minutes=1)) == {}
    assert reminders.send_due_reminders(now=now + timedelta(minutes=2)) == {}  # planned once
    # Past the lease, the stuck delivery goes back to pending and is sent.
    with time_machine.travel(now + timedelta(minutes=11), tick=False):
        assert sweep_deliveries()["released"] == 1
    assert run(now + timedelta(minutes=11)) == {"sent": 1}
    assert len(mail.outbox) == 1
    assert SubjectReminder.objects.get(offset_hours=24).status == "sent"


def test_reminder_smtp_failure_retries_then_sends(settings):
    enrol()
    now = datetime(2025, 3, 4, 7, 30, tzinfo=UTC)

    with smtp_down():
        failed = run(now)
    too_soon = run(now + timedelta(seconds=settings.DELIVERY_RETRY_BACKOFF_SECONDS - 1))
    sent = run(now + timedelta(seconds=settings.DELIVERY_RETRY_BACKOFF_SECONDS))

    assert (failed, too_soon, sent) == ({"pending": 1}, {}, {"sent": 1})
    reminder = SubjectReminder.objects.get(offset_hours=24)
    delivery = Delivery.objects.get(reminder=reminder)
    assert (reminder.status, delivery.status, delivery.attempts) == ("sent", "sent", 2)


def test_reminder_stuck_on_its_last_attempt_is_failed_not_left_pending(settings):
    enrol()
    now = datetime(2025, 3, 4, 7, 30, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        reminders.send_due_reminders(now=now)
    Delivery.objects.update(
        status="sending", claimed_at=now, attempts=settings.DELIVERY_MAX_ATTEMPTS
    )
    with time_machine.travel(now + timedelta(minutes=11), tick=False):
        sweep_deliveries()

    assert run(now + timedelta(minutes=11)) == {"failed": 1}

    assert list(SubjectReminder.objects.values_list("offset_hours", "status", "last_error")) == [
        (24, "failed", "transient: no outcome after the maximum attempts"),
        (48, "pending", ""),
    ]
    assert mail.outbox == []


def test_reminders_due_together_send_one_message():
    enrol()
    opened = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)

    # No sweep ran between the two offsets (say the worker was down for a day).
    outcome = run(opened + timedelta(hours=49))

    assert outcome == {"skipped": 1, "sent": 1}
    assert len(mail.outbox) == 1
    assert list(SubjectReminder.objects.values_list("offset_hours", "status", "last_error")) == [
        (24, "skipped", "superseded"),
        (48, "sent", ""),
    ]


def test_reminders_of_two_subjects_are_retried_independently(settings):
    enrol()
    enrol(email="q.secret@example.org")
    now = datetime(2025, 3, 4, 7, 30, tzinfo=UTC)

    with smtp_down():
        failed = run(now)
    sent = run(now + timedelta(seconds=settings.DELIVERY_RETRY_BACKOFF_SECONDS))

    assert (failed, sent) == ({"pending": 2}, {"sent": 2})
    assert sorted(m.to[0] for m in mail.outbox) == ["p.secret@example.org", "q.secret@example.org"]


def test_a_mail_server_outage_of_half_an_hour_loses_no_reminder():
    enrol()
    now = datetime(2025, 3, 4, 7, 30, tzinfo=UTC)

    with smtp_down():
        for minute in range(31):  # beat sends the sweeps every minute
            run(now + timedelta(minutes=minute))
    later = [run(now + timedelta(minutes=minute)) for minute in range(31, 41)]

    assert [outcome for outcome in later if outcome] == [{"sent": 1}]
    assert len(mail.outbox) == 1
    assert list(SubjectReminder.objects.values_list("offset_hours", "status")) == [
        (24, "sent"),
        (48, "pending"),
    ]


def test_a_reminder_failing_by_email_fails_over_to_sms_once_and_the_email_stops(settings):
    enrol(phone="+27820000009")
    now = datetime(2025, 3, 4, 7, 30, tzinfo=UTC)
    backoff = settings.DELIVERY_RETRY_BACKOFF_SECONDS

    with smtp_down():
        # The third failure (DELIVERY_FAILOVER_ATTEMPTS) plans the SMS; the email keeps retrying.
        outcomes = [run(now + timedelta(seconds=n * backoff)) for n in (0, 1, 3)]
    outcomes.append(run(now + timedelta(seconds=4 * backoff)))  # the SMS
    outcomes.append(run(now + timedelta(seconds=7 * backoff)))  # the email's next attempt

    assert settings.DELIVERY_FAILOVER_ATTEMPTS == 3
    assert outcomes == [{"pending": 1}] * 3 + [{"sent": 1}, {"cancelled": 1}]
    assert mail.outbox == []
    assert sorted(Delivery.objects.values_list("channel__kind", "status", "last_error")) == [
        ("email", "cancelled", "sent on another channel"),
        ("sms", "sent", ""),
    ]
    assert SubjectReminder.objects.get(offset_hours=24).status == "sent"


def test_a_subject_email_refused_5_1_1_breaks_that_channel_tells_the_admins_and_goes_by_sms(
    admin_user, django_capture_on_commit_callbacks
):
    from tests.notifications.sinks import SmtpSink

    enrol(phone="+27820000009")
    now = datetime(2025, 3, 4, 7, 30, tzinfo=UTC)

    with (
        SmtpSink(refuse={"p.secret@example.org"}) as sink,
        override_settings(EMAIL_BACKEND=SMTP, EMAIL_HOST="127.0.0.1", EMAIL_PORT=sink.port),
    ):
        first = run(now)
        between = SubjectReminder.objects.get(offset_hours=24).status  # its fallback is pending
        second = run(now + timedelta(seconds=1))  # the SMS fallback and the admins' notice

    assert (first, between, second) == ({"failed": 1}, "sending", {"sent": 2})
    email = Delivery.objects.get(channel__kind="email", purpose="reminder").channel
    assert (email.subject is not None, email.broken_at is not None) == (True, True)
    notice = Delivery.objects.get(purpose="channel_broken")
    assert (notice.recipient, notice.about_channel, notice.status) == (admin_user, email, "sent")
    [received] = sink.received
    assert received.rcpt_tos == [admin_user.email]
    body = received.message.get_payload()
    assert "R-1" in body and "p.secret" not in body  # the study id, never the contact
    assert SubjectReminder.objects.get(offset_hours=24).status == "sent"
