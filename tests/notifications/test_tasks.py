"""Tests for notifications/tasks.py: the evaluation task and sweep; deliveries with a real worker.

"Exactly once" in the delivery fault test below means: the row ends ``sent`` and the receiver saw
one distinct delivery id. A worker killed after the request left (here: while the receiver holds
it) leaves its row in ``sending``; after the lease the sweep sends it again, so the receiver may get
the same message twice — with the same ``Idempotency-Key``, which is what it dedupes on.
"""

import signal
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from config.celery_app import app
from notifications import evaluation
from notifications.delivery import plan_deliveries, sweep_deliveries
from notifications.models import Alert, Delivery
from notifications.tasks import evaluate_subject, sweep_evaluations
from screening.models import EvaluationRequest
from tests.factories import (
    AlertFactory,
    ChannelFactory,
    ResponseFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
    phq9_answers,
    staff_client,
)
from tests.notifications.sinks import HttpReceiver, SmtpSink
from tests.support import wait_for


def pending(subject, *, age: timedelta = timedelta(minutes=1)) -> EvaluationRequest:
    return EvaluationRequest.objects.create(
        subject=subject, reason="response", created_at=timezone.now() - age
    )


@pytest.mark.django_db
def test_the_task_evaluates_only_a_subject_with_pending_requests():
    subject = SubjectFactory()
    ResponseFactory(subject=subject, answers=phq9_answers(12))

    evaluate_subject(str(subject.pk))  # nothing pending: evaluated already
    assert Alert.objects.count() == 0

    request = pending(subject)
    evaluate_subject(str(subject.pk))

    request.refresh_from_db()
    assert list(Alert.objects.values_list("category", flat=True)) == ["tdm_needed"]
    assert request.processed_at is not None


@pytest.mark.django_db
def test_the_task_drops_a_malformed_subject_id():
    assert evaluate_subject("not-a-uuid") is None


@pytest.mark.django_db
def test_the_sweep_leaves_fresh_requests_to_their_own_task():
    subject = SubjectFactory()
    request = pending(subject, age=timedelta(seconds=5))

    assert sweep_evaluations() == 0

    request.refresh_from_db()
    assert (request.processed_at, request.attempts) == (None, 0)


@pytest.mark.django_db
def test_a_failing_subject_stays_pending_and_does_not_block_the_others(monkeypatch):
    broken, fine = SubjectFactory(), SubjectFactory()
    broken_request, fine_request = pending(broken), pending(fine)
    real = evaluation.evaluate_subject

    def evaluate(*, subject_id, now=None):
        if str(subject_id) == str(broken.pk):
            raise RuntimeError("boom")
        return real(subject_id=subject_id, now=now)

    monkeypatch.setattr(evaluation, "evaluate_subject", evaluate)

    assert sweep_evaluations() == 1

    broken_request.refresh_from_db()
    fine_request.refresh_from_db()
    assert (broken_request.processed_at, broken_request.attempts) == (None, 1)
    assert (fine_request.processed_at is not None, fine_request.attempts) == (True, 1)


def test_beat_sends_the_sweep_every_minute():
    assert app.conf.beat_schedule["notifications.sweep_evaluations"] == {
        "task": "notifications.sweep_evaluations",
        "schedule": 60.0,
    }


@pytest.mark.worker
def test_a_cmax_posted_through_the_api_is_evaluated_by_a_real_worker(celery_worker):
    subject = SubjectFactory()
    client = staff_client(UserFactory(site=subject.site))
    phq9 = ResponseFactory(subject=subject, answers=phq9_answers(12))

    response = client.post(
        f"/api/v1/subjects/{subject.pk}/cmax-results/",
        {
            "value": "38",
            "unit": "mg/L",
            "sampled_at": (timezone.now() - timedelta(hours=3)).isoformat(),
            "hours_post_dose": "2",
            "lab_reference": "LAB-WORKER",
        },
        format="json",
    )
    assert response.status_code == 201

    alert = wait_for(lambda: Alert.objects.filter(subject=subject).first())
    assert (alert.category, alert.severity, alert.rules) == ("dose_review", "high", ["R1"])
    assert [str(pk) for pk in alert.evidence_responses.values_list("id", flat=True)] == [
        str(phq9.pk)
    ]
    assert [str(pk) for pk in alert.evidence_cmax_results.values_list("id", flat=True)] == [
        response.json()["id"]
    ]
    assert wait_for(
        lambda: not EvaluationRequest.objects.filter(processed_at__isnull=True).exists()
    )


def create_alert_and_plan(site):
    """Create an alert and plan its tier-1 deliveries; the tasks go out at commit."""
    with transaction.atomic():
        alert = AlertFactory(subject=SubjectFactory(site=site, study_id="TB-0007"))
        plan_deliveries(alert=alert, tier=1)
    return alert


def smtp_env(sink: SmtpSink) -> dict:
    return {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(sink.port)}


@pytest.mark.worker
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


@pytest.mark.worker
@pytest.mark.faults
def test_smtp_failing_three_times_then_accepting_gets_exactly_one_email(start_worker):
    site = SiteFactory(code="site-a")
    ana = UserFactory(username="ana", site=site)

    with SmtpSink(fail_first=3) as sink:
        start_worker({**smtp_env(sink), "DELIVERY_RETRY_BACKOFF_SECONDS": "1"})
        alert = create_alert_and_plan(site)
        delivery = wait_for(lambda: Delivery.objects.filter(alert=alert, status="sent").first())

    assert [email.rcpt_tos for email in sink.received] == [[ana.email]]
    assert (sink.data_commands, delivery.attempts) == (4, 4)


@pytest.mark.worker
@pytest.mark.faults
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
