"""Channel health and reminders through the deliveries, with a real worker and real receivers.

Only a recipient-specific permanent failure breaks a channel (SMTP 5.1.x for that address while
the server accepts others; a webhook's 410). An SMTP server refusing everyone, and a webhook's 400,
are retried with the row's backoff (the worker's ``DELIVERY_RETRY_BACKOFF_SECONDS`` is shortened
here so that the retries happen within the test).
"""

import signal
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from config.celery_app import app
from notifications.delivery import plan_deliveries, sweep_deliveries
from notifications.models import Channel, Delivery, SubjectReminder
from tests.factories import (
    AlertFactory,
    AssessmentFactory,
    ChannelFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
    staff_client,
)
from tests.notifications.sinks import HttpReceiver, SmtpSink
from tests.support import wait_for


def smtp_env(sink: SmtpSink, **extra) -> dict:
    return {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(sink.port), **extra}


def alert_planned(site, study_id):
    """Create an alert and plan its tier-1 deliveries; the tasks go out at commit."""
    with transaction.atomic():
        alert = AlertFactory(subject=SubjectFactory(site=site, study_id=study_id))
        plan_deliveries(alert=alert, tier=1)
    return alert


def notices_to(sink: SmtpSink) -> list[str]:
    return sorted(
        email.rcpt_tos[0]
        for email in sink.received
        if email.message["Subject"].startswith("An alert channel stopped working")
    )


@pytest.mark.slow
@pytest.mark.worker
def test_smtp_refusing_everyone_with_550_for_40_s_then_healthy_delivers_every_alert_once(
    start_worker,
):
    site = SiteFactory(code="site-a")
    ana = UserFactory(username="ana", site=site)
    ben = UserFactory(username="ben", site=site)

    with SmtpSink() as sink:
        start_worker(smtp_env(sink, DELIVERY_RETRY_BACKOFF_SECONDS="8"))
        sink.refuse_all_for(40)  # every recipient, postmaster too: "550 5.1.1"
        alerts = [alert_planned(site, "TB-0001"), alert_planned(site, "TB-0002")]
        wait_for(lambda: sink.rcpt_refusals >= 4)  # each of the four deliveries was refused
        wait_for(
            lambda: Delivery.objects.filter(status="sent").count() == 4, timeout=150, interval=1
        )

    delivered = sorted(
        (email.message["X-Delivery-Id"], email.rcpt_tos[0]) for email in sink.received
    )
    expected = sorted(
        (str(d.id), d.recipient.email) for d in Delivery.objects.filter(alert__in=alerts)
    )
    assert delivered == expected  # every alert once to each clinician, nothing else
    assert {ana.email, ben.email} == {address for _, address in delivered}
    assert Channel.objects.filter(broken_at__isnull=False).count() == 0
    assert all(d.attempts > 1 for d in Delivery.objects.all())  # they were refused first
    assert not Delivery.objects.filter(purpose="channel_broken").exists()


@pytest.mark.worker
def test_smtp_550_5_1_1_for_one_address_breaks_that_channel_and_tells_owner_and_admins(
    start_worker, admin_user
):
    site = SiteFactory(code="site-a")
    ana = UserFactory(username="ana", site=site)
    ChannelFactory(user=ana, kind="email", address="ana.old@clinic.example.org")
    ChannelFactory(user=ana, kind="email", address="ana.new@clinic.example.org")

    with SmtpSink(refuse={"ana.old@clinic.example.org"}) as sink:
        start_worker(smtp_env(sink))
        alert = alert_planned(site, "TB-0003")
        wait_for(lambda: len(notices_to(sink)) == 2)

    old = Channel.objects.get(address="ana.old@clinic.example.org")
    assert (old.broken_at is not None, old.last_error) == (
        True,
        "permanent: SMTP recipient refused [550]",
    )
    assert Channel.objects.get(address="ana.new@clinic.example.org").broken_at is None
    alerts_received = [e.rcpt_tos for e in sink.received if "TB-0003" in e.message["Subject"]]
    assert alerts_received == [["ana.new@clinic.example.org"]]
    # The owner is told on her working channel, the admin by email.
    assert notices_to(sink) == sorted(["ana.new@clinic.example.org", admin_user.email])
    assert Delivery.objects.filter(alert=alert, status="failed").count() == 1


@pytest.mark.worker
def test_webhook_400_is_retried_and_does_not_break_the_channel(start_worker):
    site = SiteFactory(code="site-a")
    ana = UserFactory(username="ana", site=site)

    with HttpReceiver(statuses=[400]) as receiver:
        webhook = ChannelFactory(user=ana, kind="webhook", address=receiver.url, signing_secret="k")
        start_worker({"DELIVERY_RETRY_BACKOFF_SECONDS": "1"})
        alert = alert_planned(site, "TB-0004")
        delivery = wait_for(lambda: Delivery.objects.filter(alert=alert, status="sent").first())

    webhook.refresh_from_db()
    assert (delivery.attempts, len(receiver.requests)) == (2, 2)
    assert {r.headers["Idempotency-Key"] for r in receiver.requests} == {str(delivery.id)}
    assert webhook.broken_at is None
    assert Delivery.objects.count() == 1  # no failover needed, no notice


@pytest.mark.worker
def test_webhook_400_until_failover_reaches_the_recipient_on_another_channel(start_worker):
    site = SiteFactory(code="site-a")
    ana = UserFactory(username="ana", site=site)

    with HttpReceiver(statuses=[400] * 20) as receiver, SmtpSink() as sink:
        webhook = ChannelFactory(user=ana, kind="webhook", address=receiver.url, signing_secret="k")
        start_worker(
            smtp_env(sink, DELIVERY_RETRY_BACKOFF_SECONDS="1", DELIVERY_FAILOVER_ATTEMPTS="3")
        )
        alert = alert_planned(site, "TB-0005")
        wait_for(lambda: sink.received)

    webhook.refresh_from_db()
    assert [e.rcpt_tos for e in sink.received] == [[ana.email]]  # the implicit email
    failing = Delivery.objects.get(alert=alert, channel=webhook)
    assert (failing.failed_over_at is not None, webhook.broken_at) == (True, None)
    assert len(receiver.requests) >= 3


@pytest.mark.worker
def test_webhook_410_breaks_the_channel_tells_the_owner_and_reenabling_resends_open_alerts(
    start_worker, admin_user
):
    site = SiteFactory(code="site-a")
    ana = UserFactory(username="ana", site=site)

    with HttpReceiver(statuses=[410]) as receiver, SmtpSink() as sink:
        webhook = ChannelFactory(user=ana, kind="webhook", address=receiver.url, signing_secret="k")
        start_worker(smtp_env(sink))
        open_alert = alert_planned(site, "TB-0006")
        wait_for(lambda: len(notices_to(sink)) == 2)
        later = alert_planned(site, "TB-0007")  # while broken: to the implicit email only
        wait_for(lambda: Delivery.objects.filter(alert=later, status="sent").exists())
        resolved = AlertFactory(subject=SubjectFactory(site=site), status="resolved")
        Delivery.objects.create(
            alert=resolved, channel=webhook, recipient=ana, status="failed", attempts=1
        )
        webhook.refresh_from_db()
        assert (webhook.broken_at is not None, webhook.last_error) == (
            True,
            "permanent: HTTP 410",
        )
        assert notices_to(sink) == sorted([ana.email, admin_user.email])
        assert len(receiver.requests) == 1

        with transaction.atomic():  # commits: the re-sent tasks go out
            response = staff_client(ana).post(
                f"/api/v1/users/{ana.staff_profile.public_id}/channels/{webhook.id}/enable/"
            )
        assert response.status_code == 200
        assert (response.json()["broken_at"], response.json()["resent"]) == (None, 1)
        wait_for(lambda: len(receiver.requests) == 2)

    resent = Delivery.objects.get(alert=open_alert, channel=webhook)
    assert (resent.status, resent.attempts) == ("sent", 1)
    assert receiver.requests[1].json()["alert"]["id"] == str(open_alert.id)
    assert Delivery.objects.get(alert=resolved).status == "failed"  # resolved: not re-sent


def due_reminder_subject(*, email="", phone=""):
    """A subject with an open assessment whose 24-hour reminder is due now."""
    subject = SubjectFactory(study_id="R-0001")
    subject.contact_email, subject.contact_phone = email, phone
    subject.save()
    opened = timezone.now() - timedelta(hours=24, minutes=5)
    AssessmentFactory(
        subject=subject,
        opens_at=opened,
        closes_at=opened + timedelta(hours=72),
        schedule_entry__reminder_hours=[24],
    )
    return subject


@pytest.mark.worker
def test_reminder_email_is_a_delivery_sent_once_by_a_real_worker(start_worker):
    due_reminder_subject(email="p.secret@example.org")

    with SmtpSink() as sink:
        start_worker(smtp_env(sink))
        app.send_task("notifications.send_due_reminders")
        reminder = wait_for(lambda: SubjectReminder.objects.filter(status="sent").first())
        app.send_task("notifications.send_due_reminders")  # a doubled beat tick
        app.send_task("notifications.sweep_deliveries")
        wait_for(lambda: Delivery.objects.filter(status="sent").exists())

    delivery = Delivery.objects.get()
    assert [e.rcpt_tos for e in sink.received] == [["p.secret@example.org"]]
    message = sink.received[0].message
    assert (message["Subject"], message["X-Delivery-Id"]) == (
        "A questionnaire is waiting for you",
        str(delivery.id),
    )
    assert (delivery.purpose, delivery.reminder_id, delivery.recipient) == (
        "reminder",
        reminder.id,
        None,
    )


@pytest.mark.worker
def test_reminder_by_sms_with_the_worker_killed_mid_send_is_neither_lost_nor_doubled(
    start_worker, settings
):
    due_reminder_subject(phone="+27820000009")

    with HttpReceiver(hold_first=True) as gateway:
        env = {"SMS_BACKEND": "http", "SMS_GATEWAY_URL": gateway.url, "SMS_GATEWAY_TOKEN": "t"}
        first = start_worker(env)
        app.send_task("notifications.send_due_reminders")
        assert gateway.first_arrived.wait(30)
        delivery = Delivery.objects.get()
        assert (delivery.status, delivery.attempts) == ("sending", 1)

        first.stop(sig=signal.SIGKILL)  # the request left; its outcome was never written
        gateway.release.set()
        start_worker(env)
        app.send_task("notifications.send_due_reminders")  # the beat goes on: nothing new
        after_lease = timezone.now() + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS + 61)
        assert sweep_deliveries(now=after_lease) == {"released": 1, "sent": 1}
        wait_for(lambda: SubjectReminder.objects.filter(status="sent").exists())

    delivery.refresh_from_db()
    assert (Delivery.objects.count(), delivery.status, delivery.attempts) == (1, "sent", 2)
    assert {r.json()["to"] for r in gateway.requests} == {"+27820000009"}
    assert {r.headers["Idempotency-Key"] for r in gateway.requests} == {str(delivery.id)}
    assert "questionnaire" in gateway.requests[0].json()["text"]


@pytest.mark.slow
def test_a_request_returns_when_the_broker_accepts_connections_but_never_answers(
    transactional_db,
):
    """The publish after commit is bounded: a hung broker costs the request seconds, not a hang."""
    import socket

    from tests.conftest import celery_broker_at

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # accepts (the kernel completes the handshake) and never says a word
    url = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    site = SiteFactory(code="site-a")
    ana = UserFactory(username="ana", site=site)
    outcome: dict = {}

    def request():
        with transaction.atomic():
            alert = AlertFactory(subject=SubjectFactory(site=site))
            outcome["deliveries"] = plan_deliveries(alert=alert, tier=1)
        outcome["done"] = True
        connection.close()

    try:
        with celery_broker_at(url):
            thread = threading.Thread(target=request, daemon=True)
            thread.start()
            # One bounded attempt costs the 5 s socket timeout; publish retries (Celery's default
            # policy: four attempts) would cost 20 s or more. 15 s separates the two.
            thread.join(15)
    finally:
        listener.close()

    assert outcome.get("done") is True, "the publish hung on an unresponsive broker"
    [delivery] = outcome["deliveries"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.recipient) == ("pending", ana)  # the sweep sends it later
