"""Planning, claiming, sending, failing over and sweeping deliveries (notifications/delivery.py)."""

import logging
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from notifications import delivery
from notifications.delivery import deliver, plan_deliveries, sweep_deliveries
from notifications.models import Alert, Channel, Delivery
from screening.models import SiteMembership
from tests.factories import (
    AlertFactory,
    ChannelFactory,
    DeliveryFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
)
from tests.notifications.sinks import HttpReceiver, SmtpSink

pytestmark = pytest.mark.django_db

SMTP = "django.core.mail.backends.smtp.EmailBackend"


@pytest.fixture
def site_a():
    return SiteFactory(code="site-a")


def member(site, username, tier=1, role=SiteMembership.Role.CLINICIAN, **user_fields):
    return UserFactory(
        username=username, site=site, site__escalation_tier=tier, site__role=role, **user_fields
    )


def summary(deliveries):
    return sorted((d.recipient.username, d.channel.kind, d.channel.address) for d in deliveries)


def test_plan_deliveries_reaches_the_active_members_of_the_tier_on_their_channels(
    site_a, sent_tasks, django_capture_on_commit_callbacks
):
    member(site_a, "ana")  # no channel: implicit email to the user's address
    ben = member(site_a, "ben")
    ChannelFactory(user=ben, kind="sms", address="+27820000001")
    ChannelFactory(user=ben, kind="webhook", address="https://hooks.example.org/b")
    ChannelFactory(user=ben, kind="email", address="ben-old@example.org", active=False)
    member(site_a, "col", role=SiteMembership.Role.COORDINATOR)  # not paged by default
    broken = member(site_a, "cy")
    ChannelFactory(user=broken, kind="sms", address="+27820000002", broken_at=timezone.now())
    ChannelFactory(user=broken, kind="email", address="cy-work@example.org")
    member(site_a, "dee", tier=2)
    member(site_a, "eve", is_active=False)
    member(site_a, "fay", email="")  # no channel and no email: skipped and logged
    member(SiteFactory(code="site-b"), "gus")
    alert = AlertFactory(subject=SubjectFactory(site=site_a))

    with django_capture_on_commit_callbacks(execute=True):
        deliveries = plan_deliveries(alert=alert, tier=1)

    assert summary(deliveries) == [
        ("ana", "email", "ana@clinic.example.org"),
        ("ben", "sms", "+27820000001"),
        ("ben", "webhook", "https://hooks.example.org/b"),
        ("cy", "email", "cy-work@example.org"),
    ]
    assert sorted(sent_tasks) == sorted(str(d.id) for d in deliveries)
    assert {(d.status, d.tier, d.attempts) for d in deliveries} == {("pending", 1, 0)}


def test_plan_deliveries_sends_nothing_before_commit(site_a, sent_tasks):
    member(site_a, "ana")
    alert = AlertFactory(subject=SubjectFactory(site=site_a))

    plan_deliveries(alert=alert, tier=1)  # the test's transaction never commits

    assert (sent_tasks, Delivery.objects.count()) == ([], 1)


def test_plan_deliveries_again_creates_no_duplicate(
    site_a, sent_tasks, django_capture_on_commit_callbacks
):
    ChannelFactory(user=member(site_a, "ana"), kind="sms", address="+27820000001")
    member(site_a, "ben")
    alert = AlertFactory(subject=SubjectFactory(site=site_a))
    first = plan_deliveries(alert=alert, tier=1)
    Delivery.objects.filter(id=first[0].id).update(status=Delivery.Status.SENT)

    with django_capture_on_commit_callbacks(execute=True):
        second = plan_deliveries(alert=alert, tier=1)

    assert sorted(d.id for d in second) == sorted(d.id for d in first)
    assert Delivery.objects.filter(alert=alert).count() == 2
    assert Channel.objects.filter(user__username="ben").count() == 1
    assert sent_tasks == [str(first[1].id)]  # only the row still pending is triggered again


def test_plan_deliveries_logs_an_error_when_the_tier_has_nobody(site_a, sent_tasks, caplog):
    alert = AlertFactory(subject=SubjectFactory(site=site_a))
    with caplog.at_level(logging.ERROR):
        assert plan_deliveries(alert=alert, tier=1) == []
    assert [r.getMessage() for r in caplog.records] == ["alert has no recipient at this tier"]


def test_deliver_sends_once_and_records_sent():
    delivery = DeliveryFactory()

    assert deliver(delivery.id) == "sent"
    assert deliver(delivery.id) == ""  # a redelivered task finds the row sent

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.sent_at is not None) == ("sent", 1, True)
    assert [m.to for m in mail.outbox] == [[delivery.channel.address]]


def test_deliver_skips_a_row_another_worker_holds():
    delivery = DeliveryFactory(status=Delivery.Status.SENDING, claimed_at=timezone.now())

    assert deliver(delivery.id) == ""

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, mail.outbox) == ("sending", 0, [])


def test_deliver_cancels_when_the_alert_was_resolved():
    delivery = DeliveryFactory(alert=AlertFactory(status=Alert.Status.RESOLVED))

    assert deliver(delivery.id) == "cancelled"
    assert mail.outbox == []


def test_deliver_smtp_failing_three_times_then_accepting_sends_exactly_one_email():
    delivery = DeliveryFactory()
    outcomes = []
    with (
        SmtpSink(fail_first=3) as sink,
        override_settings(EMAIL_BACKEND=SMTP, EMAIL_HOST="127.0.0.1", EMAIL_PORT=sink.port),
    ):
        for _ in range(5):  # the row's retries, and one redelivery too many
            outcome = deliver(delivery.id)
            outcomes.append(outcome)
            if outcome == "pending":
                delivery.refresh_from_db()
                assert delivery.next_attempt_at > timezone.now()
                assert deliver(delivery.id) == ""  # not due yet: a doubled trigger sends nothing
                Delivery.objects.filter(id=delivery.id).update(next_attempt_at=timezone.now())

    delivery.refresh_from_db()
    assert outcomes == ["pending", "pending", "pending", "sent", ""]
    assert (delivery.status, delivery.attempts, sink.data_commands) == ("sent", 4, 4)
    assert [email.message["X-Delivery-Id"] for email in sink.received] == [str(delivery.id)]


def test_deliver_backs_off_exponentially():
    with override_settings(DELIVERY_RETRY_BACKOFF_SECONDS=30):
        assert [delivery.backoff(n).total_seconds() for n in range(1, 8)] == [
            30,
            60,
            120,
            240,
            480,
            600,
            600,
        ]


def test_deliver_permanent_failure_breaks_the_channel_and_falls_back_to_other_channels(
    sent_tasks, django_capture_on_commit_callbacks
):
    with HttpReceiver(statuses=[410]) as receiver:
        user = UserFactory(username="ana")
        webhook = ChannelFactory(user=user, kind="webhook", address=receiver.url)
        sms = ChannelFactory(user=user, kind="sms", address="+27820000001")
        failed = DeliveryFactory(channel=webhook)
        with django_capture_on_commit_callbacks(execute=True):
            assert deliver(failed.id) == "failed"

    failed.refresh_from_db()
    webhook.refresh_from_db()
    assert (failed.status, failed.last_error) == ("failed", "permanent: HTTP 410")
    assert (webhook.broken_at is not None, webhook.last_error) == (True, "permanent: HTTP 410")
    fallback = Delivery.objects.get(alert=failed.alert, channel=sms)
    assert (fallback.status, fallback.recipient, fallback.tier) == ("pending", user, 1)
    notice = Delivery.objects.get(purpose="channel_broken")
    assert (notice.about_channel, notice.channel, notice.recipient) == (webhook, sms, user)
    assert sent_tasks == [str(fallback.id), str(notice.id)]


@pytest.mark.parametrize("status", [400, 404, 403, 301])
def test_deliver_a_webhook_4xx_other_than_410_is_retried_and_does_not_break_the_channel(
    status, sent_tasks, django_capture_on_commit_callbacks
):
    with HttpReceiver(statuses=[status]) as receiver:
        user = UserFactory(username="ana")
        webhook = ChannelFactory(user=user, kind="webhook", address=receiver.url)
        failed = DeliveryFactory(channel=webhook)
        with django_capture_on_commit_callbacks(execute=True):
            assert deliver(failed.id) == "pending"

    failed.refresh_from_db()
    webhook.refresh_from_db()
    assert (failed.status, failed.attempts, failed.last_error) == (
        "pending",
        1,
        f"transient: HTTP {status}",
    )
    assert (webhook.broken_at, Delivery.objects.count()) == (None, 1)
    assert sent_tasks == [str(failed.id)]  # its next attempt, with the backoff as countdown


def test_deliver_permanent_failure_without_other_channel_logs_an_error(sent_tasks, caplog):
    user = UserFactory(username="ana")
    with HttpReceiver(statuses=[410]) as receiver:
        failed = DeliveryFactory(
            channel=ChannelFactory(user=user, kind="webhook", address=receiver.url)
        )
        user.email = ""
        user.save(update_fields=["email"])
        with caplog.at_level(logging.ERROR):
            deliver(failed.id)

    assert Delivery.objects.count() == 1
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "alert recipient has no usable channel and no email address",
        "message not delivered to a recipient: no other usable channel",
        "alert recipient has no usable channel and no email address",
        "nobody can be told that a channel broke",
    ]


def test_deliver_exhausted_transient_attempts_fail_over_without_breaking_the_channel(
    sent_tasks, django_capture_on_commit_callbacks
):
    with HttpReceiver(statuses=[503]) as receiver:
        user = UserFactory(username="ana")
        webhook = ChannelFactory(user=user, kind="webhook", address=receiver.url)
        failed = DeliveryFactory(channel=webhook, attempts=7)
        with (
            override_settings(DELIVERY_MAX_ATTEMPTS=8),
            django_capture_on_commit_callbacks(execute=True),
        ):
            assert deliver(failed.id) == "failed"

    failed.refresh_from_db()
    webhook.refresh_from_db()
    assert (failed.status, failed.attempts) == ("failed", 8)
    assert (webhook.broken_at, webhook.last_error) == (None, "transient: HTTP 503")
    fallback = Delivery.objects.exclude(id=failed.id).get()
    assert (fallback.channel.kind, fallback.channel.address) == ("email", user.email)


def test_deliver_to_a_channel_broken_since_planning_falls_back_without_sending(
    sent_tasks, django_capture_on_commit_callbacks
):
    user = UserFactory(username="ana")
    sms = ChannelFactory(user=user, kind="sms", address="+27820000001")
    email = ChannelFactory(user=user, kind="email", address="ana@clinic.example.org")
    failed = DeliveryFactory(channel=sms)
    Channel.objects.filter(id=sms.id).update(broken_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(failed.id) == "failed"

    assert [(d.channel_id, d.status) for d in Delivery.objects.order_by("created_at")] == [
        (sms.id, "failed"),
        (email.id, "pending"),
    ]


def test_sweep_releases_rows_past_the_lease_and_resends_due_pending_rows(sent_tasks):
    now = timezone.now()
    long_ago = now - timedelta(hours=1)
    stuck = DeliveryFactory(status="sending", claimed_at=now - timedelta(seconds=601))
    working = DeliveryFactory(status="sending", claimed_at=now - timedelta(seconds=30))
    lost = DeliveryFactory()
    fresh = DeliveryFactory()
    retry_due = DeliveryFactory(next_attempt_at=now - timedelta(seconds=1))
    retry_later = DeliveryFactory(next_attempt_at=now + timedelta(minutes=5))
    done = DeliveryFactory(status="sent")
    Delivery.objects.exclude(id=fresh.id).update(created_at=long_ago)

    with override_settings(DELIVERY_LEASE_SECONDS=600):
        first = sweep_deliveries(now=now)
        first_sent = sorted(sent_tasks)
        sent_tasks.clear()
        second = sweep_deliveries(now=now)

    statuses = {d.id: d.status for d in Delivery.objects.all()}
    assert first == {"released": 1, "sent": 3}
    assert first_sent == sorted(str(d.id) for d in (stuck, lost, retry_due))
    assert second == {"released": 0, "sent": 3}
    assert [
        statuses[d.id] for d in (stuck, working, lost, fresh, retry_due, retry_later, done)
    ] == [
        "pending",
        "sending",
        "pending",
        "pending",
        "pending",
        "pending",
        "sent",
    ]


def test_sweep_then_deliver_completes_a_row_whose_worker_died():
    delivery = DeliveryFactory()
    with time_machine.travel(timezone.now() - timedelta(hours=1)):
        Delivery.objects.filter(id=delivery.id).update(
            status="sending", claimed_at=timezone.now(), attempts=1
        )

    sweep_deliveries()
    assert deliver(delivery.id) == "sent"

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(mail.outbox)) == ("sent", 2, 1)


def test_deliver_turns_an_unexpected_error_into_a_retry(monkeypatch):
    delivery = DeliveryFactory()

    def explode(self, delivery):
        raise KeyError("surprise")

    monkeypatch.setattr("notifications.transports.email.EmailTransport.send", explode)
    assert deliver(delivery.id) == "pending"

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        "pending",
        1,
        "transient: unexpected KeyError",
    )


def test_deliver_gives_up_on_a_row_claimed_past_the_maximum_attempts(
    sent_tasks, django_capture_on_commit_callbacks
):
    delivery = DeliveryFactory(attempts=8)

    with (
        override_settings(DELIVERY_MAX_ATTEMPTS=8),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert deliver(delivery.id) == "failed"

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, mail.outbox) == ("failed", 9, [])
