"""Deliveries end to end with a real Celery worker subprocess, Redis, PostgreSQL and receivers.

"Exactly once" in the fault test below means: the row ends ``sent`` and the receiver saw one
distinct delivery id. A worker killed after the request left (here: while the receiver holds it)
leaves its row in ``sending``; after the lease the sweep sends it again, so the receiver may get
the same message twice — with the same ``Idempotency-Key``, which is what it dedupes on.
"""

import signal
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from notifications.delivery import plan_deliveries, sweep_deliveries
from notifications.models import Delivery
from tests.factories import (
    AlertFactory,
    ChannelFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
)
from tests.notifications.sinks import HttpReceiver, SmtpSink
from tests.support import wait_for

pytestmark = pytest.mark.worker


def create_alert_and_plan(site):
    """Create an alert and plan its tier-1 deliveries; the tasks go out at commit."""
    with transaction.atomic():
        alert = AlertFactory(subject=SubjectFactory(site=site, study_id="TB-0007"))
        plan_deliveries(alert=alert, tier=1)
    return alert


def smtp_env(sink: SmtpSink) -> dict:
    return {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(sink.port)}


def test_alert_email_reaches_the_site_a_clinician_once_and_no_one_at_site_b(start_worker):
    site_a, site_b = SiteFactory(code="site-a"), SiteFactory(code="site-b")
    ana = UserFactory(username="ana", site=site_a)
    UserFactory(username="bob", site=site_b)

    with SmtpSink() as sink:
        start_worker(smtp_env(sink))
        alert = create_alert_and_plan(site_a)
        delivery = wait_for(lambda: Delivery.objects.filter(alert=alert, status="sent").first())

    assert [email.rcpt_tos for email in sink.received] == [[ana.email]]
    message = sink.received[0].message
    assert message["Subject"] == "[URGENT] Discontinuation review alert for TB-0007 (site-a): D1"
    assert message["X-Delivery-Id"] == str(delivery.id)
    assert list(Delivery.objects.values_list("recipient__username", "status", "attempts")) == [
        ("ana", "sent", 1)
    ]


def test_smtp_failing_three_times_then_accepting_gets_exactly_one_email(start_worker):
    site = SiteFactory(code="site-a")
    ana = UserFactory(username="ana", site=site)

    with SmtpSink(fail_first=3) as sink:
        start_worker({**smtp_env(sink), "DELIVERY_RETRY_BACKOFF_SECONDS": "1"})
        alert = create_alert_and_plan(site)
        delivery = wait_for(lambda: Delivery.objects.filter(alert=alert, status="sent").first())

    assert [email.rcpt_tos for email in sink.received] == [[ana.email]]
    assert (sink.data_commands, delivery.attempts) == (4, 4)


def test_worker_killed_mid_delivery_neither_loses_nor_doubles_it(start_worker, settings):
    site = SiteFactory(code="site-a")
    user = UserFactory(username="ana", site=site)

    with HttpReceiver(hold_first=True) as receiver:
        ChannelFactory(user=user, kind="webhook", address=receiver.url, signing_secret="k")
        first_worker = start_worker()
        alert = create_alert_and_plan(site)
        assert receiver.first_arrived.wait(30)
        delivery = Delivery.objects.get(alert=alert)
        assert (delivery.status, delivery.attempts) == ("sending", 1)

        first_worker.stop(sig=signal.SIGKILL)  # the request left; its outcome was never written
        receiver.release.set()
        start_worker()
        after_lease = timezone.now() + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS + 61)
        assert sweep_deliveries(now=after_lease) == {"released": 1, "sent": 1}
        wait_for(lambda: Delivery.objects.filter(id=delivery.id, status="sent").exists())
        assert sweep_deliveries(now=after_lease) == {"released": 0, "sent": 0}

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert {request.headers["Idempotency-Key"] for request in receiver.requests} == {
        str(delivery.id)
    }
    assert {request.json()["delivery_id"] for request in receiver.requests} == {str(delivery.id)}
