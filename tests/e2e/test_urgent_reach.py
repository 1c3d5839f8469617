"""Issue 9 end to end: every urgent finding reaches a clinician who can act on it.

Inputs through the HTTP API, a real Celery worker evaluates, delivers and escalates, emails land
in an SMTP sink (see tests/e2e/test_alert_path.py for the helpers and the ``drain`` barrier).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery_app import app
from notifications.models import Alert, Delivery
from screening.models import SiteMembership
from tests.e2e.test_alert_path import (
    activate_phone,
    drain,
    post_cmax,
    sent_deliveries,
    smtp_env,
    submit,
)
from tests.factories import (
    AssessmentFactory,
    SiteFactory,
    SubjectFactory,
    UserFactory,
    phq9_answers,
    staff_client,
)
from tests.notifications.sinks import SmtpSink
from tests.support import wait_for

pytestmark = pytest.mark.worker


def post_paper_phq9(staff, subject, *, total: int, item9: int, completed_ago: timedelta):
    posted = staff.post(
        f"/api/v1/subjects/{subject.pk}/responses/",
        {
            "instrument": "PHQ-9",
            "answers": phq9_answers(total, item9=item9),
            "completed_at": (timezone.now() - completed_ago).isoformat(),
            "source": "paper",
        },
        format="json",
    )
    assert posted.status_code == 201, posted.json()
    return posted.json()["id"]


def emails(sink) -> list[tuple[list[str], str, str]]:
    return sorted(
        (e.rcpt_tos, e.message["Subject"], e.message.get_payload(decode=True).decode())
        for e in sink.received
    )


def test_a_phone_form_claiming_three_weeks_ago_gets_a_400_never_silence(start_worker):
    site = SiteFactory(code="site-a")
    ana = UserFactory(username="ana", site=site)
    subject = SubjectFactory(site=site, study_id="TB-2")
    assessment = AssessmentFactory(subject=subject, instrument="PHQ-9")
    with SmtpSink() as sink:
        start_worker(smtp_env(sink))
        phone = activate_phone(staff_client(ana), subject)
        reply = phone.post(
            f"/api/v1/me/assessments/{assessment.pk}/response/",
            {
                "answers": phq9_answers(5, item9=3),
                "completed_at": (timezone.now() - timedelta(days=21)).isoformat(),
            },
            format="json",
            HTTP_IDEMPOTENCY_KEY="k-1",
        )
        assert reply.status_code == 400
        assert list(reply.json()["error"]["fields"]) == ["completed_at"]
        retried = submit(phone, str(assessment.pk), phq9_answers(5, item9=3), key="k-2")
        assert retried.status_code == 201
        assert "support_message" in retried.json()
        wait_for(sent_deliveries(1))
        drain()
    assert [e[0] for e in emails(sink)] == [[ana.email]]


def test_late_and_out_of_order_paper_forms_reach_every_clinician_once_and_no_coordinator(
    start_worker,
):
    site = SiteFactory(code="site-a")
    ana = UserFactory(username="ana", site=site)
    ben = UserFactory(username="ben", site=site)
    col = UserFactory(username="col", site=site, site__role=SiteMembership.Role.COORDINATOR)
    older_first = SubjectFactory(site=site, study_id="TB-3")
    twenty_days = SubjectFactory(site=site, study_id="TB-4")
    staff = staff_client(col)  # a coordinator enters the paper forms
    with SmtpSink() as sink:
        start_worker(smtp_env(sink))
        # A benign PHQ-9 completed yesterday, then an item-9 form completed 3 days ago.
        post_paper_phq9(staff, older_first, total=2, item9=0, completed_ago=timedelta(days=1))
        post_paper_phq9(staff, older_first, total=6, item9=3, completed_ago=timedelta(days=3))
        # A paper form completed 20 days ago, entered today.
        post_paper_phq9(staff, twenty_days, total=5, item9=2, completed_ago=timedelta(days=20))
        wait_for(sent_deliveries(4))
        drain()

    received = emails(sink)
    assert [(to, line) for to, line, _ in received] == sorted(
        [
            ([ana.email], "[URGENT] Discontinuation review alert for TB-3 (site-a): D1"),
            ([ben.email], "[URGENT] Discontinuation review alert for TB-3 (site-a): D1"),
            ([ana.email], "[URGENT] Discontinuation review alert for TB-4 (site-a): D1"),
            ([ben.email], "[URGENT] Discontinuation review alert for TB-4 (site-a): D1"),
        ]
    )
    late = [body for _, line, body in received if "TB-4" in line]
    assert all("(completed 20 days ago, entered today)" in body for body in late)
    assert col.email not in {address for to, _, _ in received for address in to}


def test_a_site_without_a_clinician_alerts_the_admins_and_says_so(start_worker):
    site = SiteFactory(code="empty")
    col = UserFactory(username="col", site=site, site__role=SiteMembership.Role.COORDINATOR)
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    subject = SubjectFactory(site=site, study_id="TB-5")
    with SmtpSink() as sink:
        start_worker(smtp_env(sink))
        post_paper_phq9(
            staff_client(col), subject, total=5, item9=1, completed_ago=timedelta(hours=2)
        )
        wait_for(sent_deliveries(1))
        drain()
    [(to, line, body)] = emails(sink)
    assert to == [root.email]
    assert line == "[URGENT] Discontinuation review alert for TB-5 (empty): D1"
    assert body.startswith("Site empty has no active clinician")


def test_worsening_pages_again_once_and_the_same_evidence_pages_nobody(start_worker):
    site = SiteFactory(code="site-a")
    ana = UserFactory(username="ana", site=site)
    subject = SubjectFactory(site=site, study_id="TB-6")
    staff = staff_client(ana)
    with SmtpSink() as sink:
        start_worker(smtp_env(sink))
        assert post_cmax(staff, subject, "38").status_code == 201  # R2: dose review, routine
        wait_for(sent_deliveries(1))
        post_paper_phq9(staff, subject, total=12, item9=0, completed_ago=timedelta(hours=1))
        wait_for(sent_deliveries(2))  # R1: raised to high, paged again
        post_paper_phq9(staff, subject, total=12, item9=0, completed_ago=timedelta(minutes=30))
        drain()
        app.send_task("notifications.evaluate_subject", args=[str(subject.pk)])
        drain()

    alert = Alert.objects.get(subject=subject)
    assert (alert.severity, alert.revision) == ("high", 1)
    assert Delivery.objects.filter(alert=alert).count() == 2
    lines = [line for _, line, _ in emails(sink)]
    assert sorted(lines) == [
        "[ROUTINE] Dose review alert for TB-6 (site-a): R2",
        "[UPDATE] [HIGH] Dose review alert for TB-6 (site-a): R1, R2",
    ]
    [update] = [body for _, line, body in emails(sink) if line.startswith("[UPDATE]")]
    assert update.startswith("Update: severity raised from routine to high.")


@pytest.mark.parametrize("severity", ["urgent", "high"])
def test_an_alert_only_a_coordinator_acknowledged_escalates_to_tier_2(start_worker, severity):
    site = SiteFactory(code="site-a")
    UserFactory(username="ana", site=site)
    ben = UserFactory(username="ben", site=site, site__escalation_tier=2)
    col = UserFactory(username="col", site=site, site__role=SiteMembership.Role.COORDINATOR)
    subject = SubjectFactory(site=site, study_id="TB-7")
    staff = staff_client(col)
    with SmtpSink() as sink:
        start_worker(smtp_env(sink))
        if severity == "urgent":
            post_paper_phq9(staff, subject, total=5, item9=1, completed_ago=timedelta(hours=1))
        else:  # a positive screen and no Cmax: TDM needed, high
            post_paper_phq9(staff, subject, total=12, item9=0, completed_ago=timedelta(hours=1))
        wait_for(sent_deliveries(1))
        alert = Alert.objects.get(subject=subject)
        assert staff.post(f"/api/v1/alerts/{alert.pk}/acknowledge/").json()["status"] == "open"
        minutes = 30 if severity == "urgent" else 240
        Alert.objects.filter(pk=alert.pk).update(
            paged_at=timezone.now() - timedelta(minutes=minutes, seconds=1)
        )
        app.send_task("notifications.escalate_alerts")
        wait_for(sent_deliveries(2))
        drain()

    alert.refresh_from_db()
    assert alert.escalation_tier == 2
    ana_email = "ana@clinic.example.org"
    assert sorted(to for to, _, _ in emails(sink)) == sorted([[ana_email], [ben.email]])
