"""The fault suite's own cases (``make faults`` runs every test marked ``faults``): the broker
flushed with work in flight, and two beats sending every sweep twice at once. Each asserts that
every alert reaches its recipient exactly once."""

import threading

import pytest
from django.db import connection, transaction

from config.celery_app import app
from notifications.models import Alert, Delivery
from screening.services.outbox import request_evaluation
from tests.e2e.test_alert_path import drain, smtp_env
from tests.factories import ResponseFactory, SiteFactory, SubjectFactory, UserFactory, phq9_answers
from tests.notifications.sinks import SmtpSink
from tests.support import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.faults]

SWEEPS = ["notifications.sweep_evaluations", "notifications.sweep_deliveries"]


def urgent_finding(site, study_id):
    subject = SubjectFactory(site=site, study_id=study_id)
    with transaction.atomic():
        ResponseFactory(subject=subject, answers=phq9_answers(5, item9=2))
        request_evaluation(subject=subject, reason="response")
    return subject


def test_a_flushed_broker_loses_no_alert_and_two_beats_double_none(start_worker, redis_client):
    site = SiteFactory(code="site-a")
    ana = UserFactory(username="ana", site=site)
    subjects = [urgent_finding(site, f"TB-{n}") for n in range(3)]
    redis_client.flushdb()  # the evaluation tasks are gone; the outbox rows are not

    with SmtpSink() as sink:
        start_worker(smtp_env(sink))
        start_worker(smtp_env(sink))  # two workers, and two beats below
        for _ in range(3):
            for name in SWEEPS:
                app.send_task(name, kwargs={"min_age_seconds": 0} if "evaluations" in name else {})
                app.send_task(name, kwargs={"min_age_seconds": 0} if "evaluations" in name else {})
            drain()
            if Delivery.objects.filter(status="sent").count() == len(subjects):
                break
        wait_for(lambda: Delivery.objects.filter(status="sent").count() == len(subjects), 60)
        drain()

    assert Alert.objects.count() == len(subjects)
    assert sorted(tuple(email.rcpt_tos) for email in sink.received) == [(ana.email,)] * 3
    assert len({email.message["X-Delivery-Id"] for email in sink.received}) == 3


def test_two_beats_sweeping_at_once_deliver_each_alert_once(start_worker):
    from notifications.tasks import sweep_deliveries_task, sweep_evaluations

    site = SiteFactory(code="site-b")
    bob = UserFactory(username="bob", site=site)
    subjects = [urgent_finding(site, f"TB-B{n}") for n in range(4)]

    barrier = threading.Barrier(2)
    errors: list[str] = []

    def beat() -> None:
        try:
            barrier.wait(10)
            sweep_evaluations(min_age_seconds=0)
            sweep_deliveries_task()
        except Exception as error:  # recorded and asserted on
            errors.append(repr(error))
        finally:
            connection.close()

    with SmtpSink() as sink:
        start_worker(smtp_env(sink))
        threads = [threading.Thread(target=beat) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        wait_for(lambda: Delivery.objects.filter(status="sent").count() == len(subjects), 60)
        drain()

    assert errors == []
    assert Alert.objects.count() == len(subjects)
    assert sorted(tuple(email.rcpt_tos) for email in sink.received) == [(bob.email,)] * 4
