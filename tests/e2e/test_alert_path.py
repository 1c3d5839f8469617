"""Issue 5 end to end: API calls in, a real Celery worker evaluates and delivers, email out.

Everything runs for real: PostgreSQL, Redis (the shared test one, or a private redis-server that
the fault test stops and starts), a Celery worker subprocess and an SMTP sink (aiosmtpd). Inputs
go through the HTTP API only; the worker does evaluation and delivery by itself, from the tasks
sent after commit (or from the sweeps sent through the broker, after an outage).

``drain`` is the barrier that replaces sleeping: the worker runs one task at a time and takes
messages in order (concurrency 1, prefetch 1, acks late), so once a heartbeat sent last has been
recorded, every task sent before it has finished.
"""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from config.celery_app import app
from notifications.models import Alert, Delivery, WorkerHeartbeat
from screening.models import CmaxResult, EvaluationRequest, Response
from screening.services.outbox import request_evaluation
from tests.conftest import WorkerProcess, celery_broker_at
from tests.factories import (
    AssessmentFactory,
    ResponseFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
    phq9_answers,
    staff_client,
)
from tests.notifications.sinks import SmtpSink
from tests.support import wait_for

pytestmark = pytest.mark.worker

SUPPORT_MESSAGE = "Call the clinic: 0800 000 000"


def smtp_env(sink: SmtpSink) -> dict:
    return {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(sink.port)}


def drain(timeout: float = 60) -> None:
    """Wait until the worker has run every task sent before this call."""
    sent_at = timezone.now()
    app.send_task("notifications.record_heartbeat")
    wait_for(
        lambda: WorkerHeartbeat.objects.filter(id=1, seen_at__gte=sent_at).exists(),
        timeout=timeout,
    )


def emails_by_delivery(sink: SmtpSink) -> dict[str, tuple[list[str], str]]:
    """Return each received email's recipients and subject line, by its X-Delivery-Id."""
    return {
        email.message["X-Delivery-Id"]: (email.rcpt_tos, email.message["Subject"])
        for email in sink.received
    }


def sent_deliveries(count: int):
    """Return a predicate: exactly ``count`` deliveries exist and all of them are sent."""

    def predicate():
        rows = list(Delivery.objects.order_by("created_at"))
        return rows if len(rows) == count and all(r.status == "sent" for r in rows) else None

    return predicate


# --- the inputs, through the HTTP API only -------------------------------------------------------


def activate_phone(staff: APIClient, subject) -> APIClient:
    """Issue an activation code as staff, exchange it on the phone; return the phone's client."""
    issued = staff.post(f"/api/v1/subjects/{subject.pk}/activation-code/")
    assert issued.status_code == 201
    phone = APIClient()
    activated = phone.post(
        "/api/v1/subject-auth/activate/", {"code": issued.json()["code"]}, format="json"
    )
    assert activated.status_code == 200
    assert activated.json()["subject"]["id"] == str(subject.pk)
    phone.credentials(HTTP_AUTHORIZATION=f"Bearer {activated.json()['token']}")
    return phone


def submit(phone: APIClient, assessment_id: str, answers: dict, key: str):
    return phone.post(
        f"/api/v1/me/assessments/{assessment_id}/response/",
        {"answers": answers},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def post_staff_phq9(staff: APIClient, subject, total: int):
    return staff.post(
        f"/api/v1/subjects/{subject.pk}/responses/",
        {
            "instrument": "PHQ-9",
            "answers": phq9_answers(total),
            "completed_at": (timezone.now() - timedelta(hours=2)).isoformat(),
            "source": "paper",
        },
        format="json",
    )


def post_cmax(staff: APIClient, subject, value: str = "38", lab_reference: str = "LAB-38"):
    sampled_at = (timezone.now() - timedelta(hours=1)).replace(microsecond=0)
    return staff.post(
        f"/api/v1/subjects/{subject.pk}/cmax-results/",
        {
            "value": value,
            "unit": "ug/mL",
            "sampled_at": sampled_at.isoformat(),
            "hours_post_dose": "2",
            "dose_mg": 750,
            "lab_reference": lab_reference,
        },
        format="json",
    )


@pytest.fixture
def sites():
    """Site A with its clinician Ana, site B with its clinician Bob (each alerted by email)."""
    site_a = SiteFactory(code="site-a", crisis_message=SUPPORT_MESSAGE)
    site_b = SiteFactory(code="site-b")
    return site_a, UserFactory(site=site_a), site_b, UserFactory(site=site_b)


# --- acceptance point 2: the alert path --------------------------------------------------------


def test_phone_phq9_with_item9_emails_the_site_a_clinician_once_and_no_one_at_site_b(
    start_worker, sites
):
    site_a, ana, _, bob = sites
    subject = SubjectFactory(site=site_a, study_id="TB-0001")
    assessment = AssessmentFactory(subject=subject, instrument="PHQ-9")
    ana_api = staff_client(ana)

    with SmtpSink() as sink:
        start_worker(smtp_env(sink))
        phone = activate_phone(ana_api, subject)
        listed = phone.get("/api/v1/me/assessments/")
        assert listed.status_code == 200
        assert [(a["id"], a["instrument"]["code"]) for a in listed.json()["results"]] == [
            (str(assessment.pk), "PHQ-9")
        ]

        reply = submit(phone, str(assessment.pk), phq9_answers(5, item9=1), key="phone-key-1")

        assert reply.status_code == 201
        response = Response.objects.get()
        assert reply.json() == {
            "id": str(response.pk),
            "status": "completed",
            "support_message": SUPPORT_MESSAGE,
        }
        (delivery,) = wait_for(sent_deliveries(1))
        drain()

    assert emails_by_delivery(sink) == {
        str(delivery.pk): (
            [ana.email],
            "[URGENT] Discontinuation review alert for TB-0001 (site-a): D1",
        )
    }
    alert = Alert.objects.get()
    assert (delivery.alert_id, delivery.recipient, delivery.attempts) == (alert.pk, ana, 1)
    assert EvaluationRequest.objects.filter(processed_at__isnull=True).count() == 0

    listed = ana_api.get("/api/v1/alerts/")
    assert listed.status_code == 200
    (shown,) = listed.json()["results"]
    assert (
        shown["id"],
        shown["subject"],
        shown["category"],
        shown["severity"],
        shown["status"],
        shown["rules"],
        shown["evidence"],
    ) == (
        str(alert.pk),
        {"id": str(subject.pk), "study_id": "TB-0001", "site": "site-a"},
        "discontinuation",
        "urgent",
        "open",
        ["D1"],
        {"responses": [str(response.pk)], "cmax_results": []},
    )
    bobs = staff_client(bob).get("/api/v1/alerts/")
    assert (bobs.status_code, bobs.json()["results"]) == (200, [])


def test_cmax_38_after_a_staff_phq9_of_12_opens_a_dose_review_alert_with_both_pieces_of_evidence(
    start_worker, sites
):
    site_a, ana, _, bob = sites
    subject = SubjectFactory(site=site_a, study_id="TB-0002")
    ana_api = staff_client(ana)

    with SmtpSink() as sink:
        start_worker(smtp_env(sink))
        entered = post_staff_phq9(ana_api, subject, 12)
        assert entered.status_code == 201
        # A positive screen without a Cmax: "Cmax measurement needed" (T1) reaches Ana first.
        (tdm_delivery,) = wait_for(sent_deliveries(1))

        posted = post_cmax(ana_api, subject, "38")
        assert posted.status_code == 201
        tdm_delivery, dose_delivery = wait_for(sent_deliveries(2))
        drain()

    response_id, cmax_id = entered.json()["id"], posted.json()["id"]
    assert emails_by_delivery(sink) == {
        str(tdm_delivery.pk): (
            [ana.email],
            "[HIGH] Cmax measurement (TDM) needed alert for TB-0002 (site-a): T1",
        ),
        str(dose_delivery.pk): ([ana.email], "[HIGH] Dose review alert for TB-0002 (site-a): R1"),
    }
    dose_review = Alert.objects.get(category="dose_review")
    assert dose_delivery.alert_id == dose_review.pk

    listed = ana_api.get("/api/v1/alerts/", {"category": "dose_review"})
    (shown,) = listed.json()["results"]
    assert (shown["id"], shown["severity"], shown["rules"], shown["evidence"]) == (
        str(dose_review.pk),
        "high",
        ["R1"],
        {"responses": [response_id], "cmax_results": [cmax_id]},
    )
    assert staff_client(bob).get("/api/v1/alerts/").json()["results"] == []


# --- acceptance point 3: Redis down --------------------------------------------------------------


@pytest.mark.faults
def test_with_redis_down_submissions_are_accepted_and_alerted_exactly_once_after_it_returns(
    transactional_db, private_redis, sites, tmp_path
):
    site_a, ana, _, _ = sites
    phone_subject = SubjectFactory(site=site_a, study_id="TB-0003")
    assessment = AssessmentFactory(subject=phone_subject, instrument="PHQ-9")
    lab_subject = SubjectFactory(site=site_a, study_id="TB-0004")
    ResponseFactory(
        subject=lab_subject, instrument_code="PHQ-9", answers=phq9_answers(12)
    )  # no evaluation queued
    ana_api = staff_client(ana)

    with SmtpSink() as sink, celery_broker_at(private_redis.url, cache=True):
        env = {**smtp_env(sink), "TEST_REDIS_URL": private_redis.url}
        worker = WorkerProcess(tmp_path / "worker.log", extra_env=env).start()
        try:
            phone = activate_phone(ana_api, phone_subject)  # the rate-limit cache is Redis too
            drain()  # the worker and this process both talk to the private Redis

            private_redis.stop()
            answers = phq9_answers(5, item9=1)
            reply = submit(phone, str(assessment.pk), answers, key="during-outage")
            retry = submit(phone, str(assessment.pk), answers, key="during-outage")
            posted = post_cmax(ana_api, lab_subject, "38")

            assert (reply.status_code, retry.status_code, posted.status_code) == (201, 201, 201)
            assert retry.content == reply.content
            # One request each: the phone's retry was a replay, and queued nothing more.
            assert list(
                EvaluationRequest.objects.order_by("reason").values_list(
                    "subject_id", "reason", "processed_at"
                )
            ) == [(lab_subject.pk, "cmax", None), (phone_subject.pk, "response", None)]
            assert Alert.objects.count() == 0

            private_redis.start()  # empty: whatever was queued before the outage is gone
            # What beat would do a minute later, sent through the broker to the (reconnected)
            # worker; a zero minimum age so that the test need not wait 30 s.
            app.send_task("notifications.sweep_evaluations", kwargs={"min_age_seconds": 0})
            wait_for(sent_deliveries(2), timeout=90)

            # The sweeps again, twice: nothing is pending, so nothing is evaluated or sent twice.
            for _ in range(2):
                app.send_task("notifications.sweep_evaluations", kwargs={"min_age_seconds": 0})
                app.send_task("notifications.sweep_deliveries")
            drain()
        finally:
            worker.stop()

    alerts = {a.subject_id: a for a in Alert.objects.all()}
    assert {(s, a.category, tuple(a.rules)) for s, a in alerts.items()} == {
        (phone_subject.pk, "discontinuation", ("D1",)),
        (lab_subject.pk, "dose_review", ("R1",)),
    }
    deliveries = list(Delivery.objects.all())
    assert sorted((d.alert_id, d.status, d.attempts) for d in deliveries) == sorted(
        (a.pk, "sent", 1) for a in alerts.values()
    )
    assert emails_by_delivery(sink) == {
        str(d.pk): ([ana.email], sink_subject(d)) for d in deliveries
    }
    assert len(sink.received) == 2
    assert EvaluationRequest.objects.filter(processed_at__isnull=True).count() == 0
    assert list(CmaxResult.objects.values_list("subject_id", flat=True)) == [lab_subject.pk]


def sink_subject(delivery: Delivery) -> str:
    """The subject line expected for a delivery of this test's alerts."""
    assert delivery.alert is not None
    return {
        "TB-0003": "[URGENT] Discontinuation review alert for TB-0003 (site-a): D1",
        "TB-0004": "[HIGH] Dose review alert for TB-0004 (site-a): R1",
    }[delivery.alert.subject.study_id]


# --- acceptance point 4: re-evaluation is idempotent -------------------------------------------


def test_evaluating_a_subject_five_more_times_in_the_worker_adds_no_alert_delivery_or_email(
    start_worker, sites
):
    site_a, ana, _, _ = sites
    subject = SubjectFactory(site=site_a, study_id="TB-0005")

    with SmtpSink() as sink:
        start_worker(smtp_env(sink))
        with transaction.atomic():
            response = ResponseFactory(
                subject=subject,
                instrument_code="PHQ-9",
                answers=phq9_answers(5, item9=1),
                source="phone",
            )
            request_evaluation(subject=subject, reason="response", source_id=str(response.pk))
        (delivery,) = wait_for(sent_deliveries(1))

        for number in range(5):
            again = EvaluationRequest.objects.create(
                subject=subject, reason="test", source_id=str(number)
            )
            app.send_task("notifications.evaluate_subject", args=[str(subject.pk)])
            wait_for(
                lambda pk=again.pk: EvaluationRequest.objects.filter(
                    pk=pk, processed_at__isnull=False
                ).exists()
            )
        drain()

    assert list(Alert.objects.values_list("subject_id", "category", "rules")) == [
        (subject.pk, "discontinuation", ["D1"])
    ]
    assert list(Delivery.objects.values_list("id", "status", "attempts")) == [
        (delivery.pk, "sent", 1)
    ]
    assert [email.message["X-Delivery-Id"] for email in sink.received] == [str(delivery.pk)]
    assert EvaluationRequest.objects.filter(processed_at__isnull=True).count() == 0
